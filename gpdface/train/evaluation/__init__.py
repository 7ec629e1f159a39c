"""Measuring styles: the face-sketch protocol (SSIM, FSIM, tone), identity, faithfulness on unseen faces."""
