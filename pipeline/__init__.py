"""AG News LSTM classifiers as a DVC pipeline: the importable library behind every stage."""

import os
import time

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


def busy_cores(seconds: float = 0.1, stat: str = "/proc/stat") -> float:
    """How many cores other processes kept busy over the next ``seconds`` (this process sleeps
    meanwhile), from the machine-wide CPU times of ``/proc/stat``; 0.0 where there is none."""

    def times() -> tuple[int, int]:
        with open(stat, encoding="ascii") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]), idle  # guest time is already counted in user time

    try:
        total0, idle0 = times()
        time.sleep(seconds)
        total1, idle1 = times()
    except (OSError, ValueError, IndexError):
        return 0.0
    elapsed = total1 - total0
    cores = os.cpu_count() or 1
    return 0.0 if elapsed <= 0 else cores * (1 - (idle1 - idle0) / elapsed)


def default_threads(cores: int, workers: int, busy: float = 0.0) -> int:
    """OpenMP threads for one training process: the usable cores that other programs leave free, shared
    equally among ``workers`` DVC queue workers, at least 1. A thread on a core that another process
    keeps busy makes its whole team wait at every barrier (measured on 2 cores next to one busy process:
    2 threads ran at 0.25-0.34x their quiet speed, one thread per free core at 0.52-0.68x; see README,
    Throughput under load)."""
    free = max(1, round(cores - busy))
    return max(1, min(free, cores // max(1, workers)))


# MXNet's default OpenMP team oversubscribes small machines (measured on 2 cores: 9.3k vs 15.7k
# samples/s for the 25-token LSTM). One OpenMP thread per core that is free when the process starts,
# unless the user chose; inside a DVC experiment (DVC sets DVC_EXP_NAME for its stages) the cores are
# split among the running queue workers (`dvc queue start -j N`), each of which trains one model at a
# time. The count does not change results (tests/test_threads.py trains with 1 and 2 threads and
# compares the weights bit for bit). This must run before mxnet is imported, which every pipeline
# module does after this package. AGNEWS_MXNET_DEFAULT_THREADS=1 keeps MXNet's default (the benchmark
# measures the reference loop so).
OMP_THREADS_FROM_USER = "OMP_NUM_THREADS" in os.environ
if os.environ.get("AGNEWS_MXNET_DEFAULT_THREADS") != "1" and not OMP_THREADS_FROM_USER:
    _cores = len(os.sched_getaffinity(0))
    _workers = count_queue_workers() if "DVC_EXP_NAME" in os.environ else 0
    os.environ["OMP_NUM_THREADS"] = str(default_threads(_cores, _workers, busy_cores() if _cores > 1 else 0.0))

CLASS_NAMES = ("World", "Sports", "Business", "Sci/Tech")
NUM_CLASSES = len(CLASS_NAMES)
