"""``python -m percept.tools.train_detector``: see :mod:`percept.tools.train_detector.train`."""

import sys

from percept.tools.train_detector.train import main

sys.exit(main())
