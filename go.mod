module github.com/ehos-project/ehos

go 1.26

require github.com/google/go-cmp v0.7.0

require gopkg.in/yaml.v3 v3.0.1
