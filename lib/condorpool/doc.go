// Package condorpool is the HTCondor side of the provisioner: it satisfies
// lib/provision's Pool (demand and flavor ads through lib/demand, the
// workers' slot ads, drain, the provisioner's own ad) and Bootstrap (a
// worker's user-data: its own freshly minted IDTOKEN in the rendered
// cloud-init template), over lib/condor's tools.
package condorpool
