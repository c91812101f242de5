package conformance

import "github.com/rivet-flow/rivet-flow/actors"

type metadataState struct {
	LastMetadata any               `json:"lastMetadata"`
	ActorName    string            `json:"actorName"`
	StoredTags   map[string]string `json:"storedTags"`
	StoredRegion *string           `json:"storedRegion"`
}

// metadataActor reports its name (c.name in RivetKit: the type's name) and
// tags and region the tests store in its state.
var metadataActor = actors.NewType("metadataActor", actors.Options[metadataState]{
	State: metadataState{StoredTags: map[string]string{}},
	OnWake: func(c *actors.Context[metadataState]) error {
		c.State.ActorName = c.Type()
		return nil
	},
}).
	Action("setupTestTags", actors.Act(func(c *actors.Context[metadataState], tags map[string]string) (map[string]string, error) {
		if tags == nil {
			tags = map[string]string{}
		}
		c.State.StoredTags = tags
		return tags, nil
	})).
	Action("setupTestRegion", actors.Act(func(c *actors.Context[metadataState], region string) (string, error) {
		c.State.StoredRegion = &region
		return region, nil
	})).
	Action("getMetadata", actors.Act0(func(c *actors.Context[metadataState]) (map[string]any, error) {
		md := map[string]any{"name": c.Type(), "tags": c.State.StoredTags, "region": c.State.StoredRegion}
		c.State.LastMetadata = md
		return md, nil
	})).
	Action("getActorName", actors.Act0(func(c *actors.Context[metadataState]) (string, error) {
		return c.Type(), nil
	})).
	Action("getTag", actors.Act(func(c *actors.Context[metadataState], key string) (*string, error) {
		if v := c.State.StoredTags[key]; v != "" {
			return &v, nil
		}
		return nil, nil
	})).
	Action("getTags", actors.Act0(func(c *actors.Context[metadataState]) (map[string]string, error) {
		return c.State.StoredTags, nil
	})).
	Action("getRegion", actors.Act0(func(c *actors.Context[metadataState]) (*string, error) {
		return c.State.StoredRegion, nil
	})).
	Action("getStoredActorName", actors.Act0(func(c *actors.Context[metadataState]) (string, error) {
		return c.State.ActorName, nil
	})).
	Action("getLastMetadata", actors.Act0(func(c *actors.Context[metadataState]) (any, error) {
		return c.State.LastMetadata, nil
	}))

func init() { add(metadataActor) }
