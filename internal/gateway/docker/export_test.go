package docker

// FollowsRedirects exposes the auto mode's client list to the client
// tests, which check it against what the real clients do.
var FollowsRedirects = followsRedirects
