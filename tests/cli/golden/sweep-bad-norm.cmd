sweep data/sample-early.h5 -o golden-out --norm block128
