"""Policy names: which rendition of an asset is uploaded. The pixel work is in ``renditions``."""

VISION = "vision"  # what Claude reads best, cheapest and safest (see vision.py)
ORIGINAL = "original"  # the source bytes, when the API takes them
POLICIES = (VISION, ORIGINAL)
DEFAULT_POLICY = VISION


def choose(asked: str | None, available) -> str | None:
    """The policy whose rendition to use: the one asked for, else the default when the asset
    has it, else any it has; None when the asset has no such rendition."""
    wanted = asked or (
        DEFAULT_POLICY if DEFAULT_POLICY in available else next(iter(available), None)
    )
    return wanted if wanted in available else None


def missing_message(sha256: str, asked: str | None) -> str:
    return (
        f"asset {sha256[:12]} has no {asked or 'rendition'} rendition; "
        f"run: assetmgr add PATH --policy {asked or DEFAULT_POLICY}"
    )
