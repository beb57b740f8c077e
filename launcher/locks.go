package launcher

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/lablink-go/lablink/internal/atomicfile"
	"github.com/lablink-go/lablink/launcher/internal/tofu"
	"github.com/lablink-go/lablink/tfstate"
)

// lockWindows remembers when an OpenTofu of this working directory ended
// without releasing the state lock it may have held: killed by a signal,
// or unable to reach its backend to release it. A lock of this host taken
// within such a window is that process's, and nobody holds it any more;
// the windows are kept in the working directory, so that a restarted
// allocator still knows them.
type lockWindows struct {
	path string
	mu   sync.Mutex
}

type lockWindow struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// note records the window of a failed process that may have left a lock.
func (w *lockWindows) note(e *tofu.Error) {
	if !e.Killed && !e.LockLeft {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	ws := w.read()
	ws = append(ws, lockWindow{Start: e.Start, End: e.End})
	if len(ws) > 20 {
		ws = ws[len(ws)-20:]
	}
	if b, err := json.Marshal(ws); err == nil && os.MkdirAll(filepath.Dir(w.path), 0o700) == nil {
		_ = atomicfile.Write(w.path, b)
	}
}

// left reports whether lock was taken on this host within a recorded
// window: the lock of a process of this directory that is gone.
func (w *lockWindows) left(lock *tfstate.Lock) bool {
	if lock == nil || lock.Who != tfstate.Self().Who() {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, win := range w.read() {
		// A second of slack: the lock's clock is OpenTofu's.
		if !lock.Created.Before(win.Start.Add(-time.Second)) && !lock.Created.After(win.End.Add(time.Second)) {
			return true
		}
	}
	return false
}

// clear forgets the windows once no lock is left. A file it cannot
// remove only keeps windows no later lock falls in.
func (w *lockWindows) clear() {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = os.Remove(w.path)
}

func (w *lockWindows) read() []lockWindow {
	b, err := os.ReadFile(w.path)
	if err != nil {
		return nil
	}
	var ws []lockWindow
	_ = json.Unmarshal(b, &ws)
	return ws
}

func newLockWindows(dir string) *lockWindows {
	return &lockWindows{path: filepath.Join(dir, ".lablink", "lock-windows.json")}
}
