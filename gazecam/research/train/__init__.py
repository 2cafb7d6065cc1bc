"""Decoder fine-tuning with a frozen DINOv2 backbone (Gaze-LLE recipe).

Submodules: :mod:`.data` (samples, augmentations, targets), :mod:`.features` (backbone feature cache),
:mod:`.loop` (training, checkpoints, resume, log).  Imported on use (they need torch).
"""
