"""AG News LSTM classifiers as a DVC pipeline: the importable library behind every stage."""

import os

QUEUE_WORKER_ARGS = ("exp", "queue-worker")  # how `dvc queue start` runs each worker: `dvc exp queue-worker NAME`


def count_queue_workers(proc: str = "/proc") -> int:
    """How many `dvc exp queue-worker` processes are running on this machine (any repository: they all
    share its cores). 0 where there is no /proc."""
    count = 0
    try:
        entries = os.scandir(proc)
    except OSError:
        return 0
    with entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(os.path.join(entry.path, "cmdline"), "rb") as fh:
                    args = fh.read().decode("utf-8", "replace").split("\0")
            except OSError:  # the process ended while we looked, or is not ours to read
                continue
            count += any(tuple(args[i:i + 2]) == QUEUE_WORKER_ARGS for i in range(len(args) - 1))
    return count


def default_threads(cores: int, workers: int) -> int:
    """OpenMP threads for one training process when ``workers`` DVC queue workers share ``cores``:
    an equal share, at least 1 (threads that spin on a shared core slow each other badly)."""
    return max(1, cores // max(1, workers))


# MXNet's default OpenMP team oversubscribes small machines (measured on 2 cores: 9.3k vs 15.7k
# samples/s for the 25-token LSTM). One OpenMP thread per usable core, unless the user chose; inside a
# DVC experiment (DVC sets DVC_EXP_NAME for its stages) the cores are split among the running queue
# workers (`dvc queue start -j N`), each of which trains one model at a time.
# This must run before mxnet is imported, which every pipeline module does after this package.
# AGNEWS_MXNET_DEFAULT_THREADS=1 keeps MXNet's default (the benchmark measures the reference loop so).
if os.environ.get("AGNEWS_MXNET_DEFAULT_THREADS") != "1" and "OMP_NUM_THREADS" not in os.environ:
    _workers = count_queue_workers() if "DVC_EXP_NAME" in os.environ else 0
    os.environ["OMP_NUM_THREADS"] = str(default_threads(len(os.sched_getaffinity(0)), _workers))

CLASS_NAMES = ("World", "Sports", "Business", "Sci/Tech")
NUM_CLASSES = len(CLASS_NAMES)
