"""Networks used at inference time."""

from .student import StudentConfig, StudentNet, count_flops, load_student, save_student

__all__ = ["StudentConfig", "StudentNet", "count_flops", "load_student", "save_student"]
