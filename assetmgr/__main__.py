"""``python -m assetmgr``: the same as the ``assetmgr`` command."""

from .cli import main

if __name__ == "__main__":
    main()
