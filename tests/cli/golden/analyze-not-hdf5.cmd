analyze README.md --recipe lpmm4 --device cpu
