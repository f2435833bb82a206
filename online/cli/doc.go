// Package cli is the command line of the online service, `cryptoassets`:
// the service itself (serve) and the operators' commands around it. The
// commands parse flags, load the configuration and call the packages that do
// the work; they hold no business logic of their own.
package cli
