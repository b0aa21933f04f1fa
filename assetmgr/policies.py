"""Policy names: which rendition of an asset is uploaded. The pixel work is in ``renditions``."""

VISION = "vision"  # what Claude reads best, cheapest and safest (see vision.py)
ORIGINAL = "original"  # the source bytes, when the API takes them
POLICIES = (VISION, ORIGINAL)
DEFAULT_POLICY = VISION
