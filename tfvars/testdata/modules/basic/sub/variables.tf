variable "in_subdir" {}
