package bb

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// LogLine is one request of a client's log.
type LogLine struct {
	// At is when the answer (or the error) came.
	At time.Time
	// Reply is the answer; zero when Err is set.
	Reply Reply
	// Err is what went wrong, "" for an answer.
	Err string
}

// From is who answered: the payload without "hello from " and its newline
// ("east" for the guide's bb in east), "" for an error.
func (l LogLine) From() string {
	return strings.TrimSuffix(strings.TrimPrefix(l.Reply.Payload, "hello from "), "\n")
}

// Body is the line as the guide's curl loop prints it: the answer's JSON,
// or the error.
func (l LogLine) Body() string {
	if l.Err != "" {
		return "error: " + l.Err
	}
	b, _ := json.Marshal(l.Reply)
	return string(b)
}

// ReadLog reads a client's log (see Main). Lines that do not start with a
// timestamp are not requests (a header the program's runner wrote, a
// crash) and are skipped; a request line it cannot read is an error naming
// the file and line.
func ReadLog(path string) ([]LogLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []LogLine
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		stamp, rest, _ := strings.Cut(sc.Text(), " ")
		at, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil {
			continue
		}
		l := LogLine{At: at}
		if msg, ok := strings.CutPrefix(rest, "error: "); ok {
			l.Err = msg
		} else if err := json.Unmarshal([]byte(rest), &l.Reply); err != nil {
			return lines, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		lines = append(lines, l)
	}
	return lines, sc.Err()
}
