"""Research tools, apart from the runtime path: :mod:`~gazecam.research.bench` (speed against the official
algorithm), :mod:`~gazecam.research.eval` (benchmark datasets and metrics) and :mod:`~gazecam.research.train`
(decoder fine-tuning).  They use the runtime's library (loading, pipeline step, models); the runtime never
imports them.  Submodules are imported on use.
"""
