"""The refusals of the pipeline: one base class, so that a stage can tell them from bugs.

A :class:`PipelineError` is a problem the user can fix (a bad params.yaml, a missing or corrupt input, a
checkpoint that does not fit): stages report it as one ``error: ...`` line. Anything else (an
``MXNetError`` from a shape mismatch, a ``KeyError``) is a bug in this code and keeps its traceback.
Each subclass also keeps the built-in class it had before (``ValueError``, ``OSError``, ...) so that
callers catching those still work.
"""

from __future__ import annotations


class PipelineError(Exception):
    """A refusal: the message says what is wrong, with which file or key, and what was expected."""


class InputError(PipelineError, ValueError):
    """An input file or argument the pipeline cannot use."""


class CheckpointError(PipelineError, ValueError):
    """A checkpoint is missing or does not fit the vocabulary or the params it is used with (here, not in
    pipeline.checkpoint, so that `predict` can refuse an unknown approach without importing MXNet)."""


class TrainingError(PipelineError, RuntimeError):
    """Training could not produce a model with these settings (e.g. it diverged)."""
