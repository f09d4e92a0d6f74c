analyze --recipe lpmm4 --device cpu
