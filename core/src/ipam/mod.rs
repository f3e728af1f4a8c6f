//! IPAM for `kvip cloud-provider`: pools from ConfigMap `kube-system/kubevip` and allocation.
