"""Contrastive training across domains (CLIP-style): two sciformer encoders, projection heads and the
symmetric InfoNCE loss; paired inputs; recall@k retrieval and zero-shot classification."""
