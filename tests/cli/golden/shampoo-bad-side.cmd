shampoo data/sample-late.h5 --from-grads blocks.1.attn.proj.weight --side up
