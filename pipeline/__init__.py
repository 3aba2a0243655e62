"""AG News LSTM classifiers as a DVC pipeline: the importable library behind every stage."""

import os

# MXNet's default OpenMP team oversubscribes small machines (measured on 2 cores: 9.3k vs 15.7k
# samples/s for the 25-token LSTM). One OpenMP thread per usable core, unless the user chose.
# This must run before mxnet is imported, which every pipeline module does after this package.
# AGNEWS_MXNET_DEFAULT_THREADS=1 keeps MXNet's default (the benchmark measures the reference loop so).
if os.environ.get("AGNEWS_MXNET_DEFAULT_THREADS") != "1":
    os.environ.setdefault("OMP_NUM_THREADS", str(len(os.sched_getaffinity(0))))

CLASS_NAMES = ("World", "Sports", "Business", "Sci/Tech")
