list --bits 9
