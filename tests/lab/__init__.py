"""Lab tests: they need a real Kubernetes cluster (KUBECONFIG); deselected everywhere else."""
