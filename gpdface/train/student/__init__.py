"""Training the student: the objective and its losses, the faithful-face terms, distillation, export."""
