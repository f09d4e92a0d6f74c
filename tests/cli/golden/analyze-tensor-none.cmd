analyze data/sample-early.h5 --recipe lpmm4 --tensor 'nothing*' --device cpu
