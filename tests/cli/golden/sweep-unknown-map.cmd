sweep data/sample-early.h5 -o golden-out --map dtre
