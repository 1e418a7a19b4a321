// Package control holds what maintainers manage: users, organizations,
// their members and roles, packages (a manifest rule plus its owner),
// collections that create packages on first download, domains and API
// tokens. It decides who may do what, and checks names; the stores
// persist it (store/sqlite and store/postgres) and the API serves it.
//
// # Roles
//
// Roles are held per organization, covering all of its packages, and per
// package, adding to the organization's role and never taking from it:
//
//	role     read data   edit configuration   grant access   remove Admins
//	Owner    yes         yes                  yes            yes
//	Admin    yes         yes                  yes            no
//	Member   yes         no                   no             no
//
// An Admin can neither remove an Admin or an Owner nor change their role,
// and cannot make anyone an Owner. The last Owner of an organization can
// neither leave nor be demoted. Server administrators act as Owners of
// every organization. An API token acts as its user, narrowed by its
// scope: a read token only reads.
package control
