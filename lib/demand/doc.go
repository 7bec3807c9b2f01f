// Package demand is ehos's model of idle-job demand and the two halves of
// the matchmaking mechanism that decides which flavors can run it.
//
//   - The demand reporter (plugins/ehos_demand) reads one schedd's idle jobs
//     grouped by autocluster — two projections, never whole job ads — and
//     advertises one EHOSDemand ad per group (Reporter, DemandAds).
//   - The provisioner advertises one offline startd ad per flavor and region
//     (FlavorAds). HTCondor's own negotiator matches idle jobs against them
//     and writes its verdict on each flavor ad (OfflineMatches). Eligibility
//     reads that verdict; ToScale joins it with the demand ads into the
//     []scale.Demand the decision consumes. Collector does both for the
//     provisioner (Demand, Offer).
//
// The join happens in the provisioner, not in the reporter: see
// docs/matchmaking.md for why. This package never evaluates a ClassAd
// expression itself: matching is the negotiator's job.
package demand
