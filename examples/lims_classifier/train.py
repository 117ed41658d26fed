"""Train, log, register, promote and use the LIMS contamination classifier.

    python examples/lims_classifier/train.py                      # embedded store in ./cairn-data
    CAIRN_TRACKING_URI=http://127.0.0.1:5000 python examples/lims_classifier/train.py
    python examples/lims_classifier/train.py --tracking-uri http://127.0.0.1:5000

The workflow itself is cairn/demo/lims.py (it ships with Cairn, so `cairn demo` can run it).
"""

import sys

from cairn.demo.lims import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
