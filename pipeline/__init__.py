"""AG News LSTM classifiers as a DVC pipeline: the importable library behind every stage."""

CLASS_NAMES = ("World", "Sports", "Business", "Sci/Tech")
