sweep data/sample-late.h5 -o out --group 'attn=two words'
