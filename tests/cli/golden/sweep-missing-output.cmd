sweep data/sample-early.h5
