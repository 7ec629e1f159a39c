"""Teacher GANs behind one interface: StyleGAN2 (rosinality checkpoints) and a 64 px DCGAN."""

from .base import Teacher
from .dcgan import DCGANTeacher
from .registry import load_teacher
from .stylegan2_teacher import StyleGAN2Teacher, convert_checkpoint

__all__ = ["DCGANTeacher", "StyleGAN2Teacher", "Teacher", "convert_checkpoint", "load_teacher"]
