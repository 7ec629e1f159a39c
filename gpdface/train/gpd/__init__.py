"""GAN prior distillation's teacher stages: projection, adaptation, the latent encoder, the teacher targets."""
