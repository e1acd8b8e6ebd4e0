"""``python -m otasuke.platform.serve <service>``: run one service process."""
import sys

from .service import serve

if __name__ == "__main__":
    serve(sys.argv[1])
