package reconciler

// folderCacheSize is how many commits' folders are kept. Flux applies
// revisions in order and a few behind fedgen's head at most; an older one
// is read from the clone (which keeps a few commits below each head).
const folderCacheSize = 16

// folderCache is the folder's content by commit hash, for the revisions
// Flux applied or attempted, which the Link status compares with the
// render. It holds the last folderCacheSize commits put in it: fedgen puts
// every commit it makes, and the cache must not grow with them (each entry
// is a map of every file of the folder, 5,000 at scale).
type folderCache struct {
	files map[string]map[string][]byte
	order []string // hashes, oldest first
}

func newFolderCache() *folderCache {
	return &folderCache{files: map[string]map[string][]byte{}}
}

// get returns the folder at commit hash, if kept.
func (c *folderCache) get(hash string) (map[string][]byte, bool) {
	f, ok := c.files[hash]
	return f, ok
}

// put keeps the folder at commit hash, replacing what was kept for it,
// and forgets the oldest commit beyond folderCacheSize.
func (c *folderCache) put(hash string, files map[string][]byte) {
	if _, ok := c.files[hash]; !ok {
		c.order = append(c.order, hash)
	}
	c.files[hash] = files
	for len(c.order) > folderCacheSize {
		delete(c.files, c.order[0])
		c.order = c.order[1:]
	}
}
