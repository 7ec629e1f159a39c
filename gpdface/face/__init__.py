"""The face pipeline: detect (RetinaFace), align (5-point similarity), paste back (feathered mask)."""

from .align import FFHQ_TEMPLATE_512, AlignedFace, align_face, estimate_alignment, template_for
from .blend import paste_faces
from .detect import DetectedFace, Detector, RetinaFaceDetector

__all__ = [
    "FFHQ_TEMPLATE_512",
    "AlignedFace",
    "DetectedFace",
    "Detector",
    "RetinaFaceDetector",
    "align_face",
    "estimate_alignment",
    "paste_faces",
    "template_for",
]
