"""Where the embedded default keeps its data: one leaf that the server and the SDK both read."""

DEFAULT_HOME = "./cairn-data"
"""The data directory when ``$CAIRN_HOME`` is unset, written here only."""
HOME_VARIABLE = "CAIRN_HOME"
