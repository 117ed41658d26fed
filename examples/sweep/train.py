"""Grid-search a RandomForest with nested runs and register the best one.

    python examples/sweep/train.py                      # embedded store in ./cairn-data
    CAIRN_TRACKING_URI=http://127.0.0.1:5000 python examples/sweep/train.py
    python examples/sweep/train.py --tracking-uri http://127.0.0.1:5000

The workflow itself is cairn/demo/sweep.py (it ships with Cairn, so `cairn demo` can run it).
"""

import sys

from cairn.demo.sweep import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
