"""Train and register the five-class security prompt classifier.

    python examples/security_prompts/train.py                      # embedded store in ./cairn-data
    CAIRN_TRACKING_URI=http://127.0.0.1:5000 python examples/security_prompts/train.py
    python examples/security_prompts/train.py --tracking-uri http://127.0.0.1:5000

The workflow itself is cairn/demo/prompts.py (it ships with Cairn, so `cairn demo` can run it).
"""

import sys

from cairn.demo.prompts import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
