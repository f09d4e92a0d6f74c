plot tests/data/does-not-exist.json -o golden-out
