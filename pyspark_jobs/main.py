"""The spark-submit application: `spark-submit ... main.py run JOB --ds D --env E`."""

import sys

from common.cli import main

if __name__ == "__main__":
    sys.exit(main())
