// Command streamload is the stream benchmark's load: a paced OpenAI-compatible streaming upstream,
// and the clients that open thousands of chat streams and time every event. It is written in Go so
// that the load costs far less CPU than what it measures (the gateway shares the machine with it).
//
//	streamload upstream -port P [-chunks 100] [-gap 50ms]
//	streamload clients -url URL -model M [-key K] -count N [-spread 5s] [-expected 100] [-timeout 10m]
//
// The upstream answers POST .../chat/completions with "stream": true like OpenAI: a 200
// text/event-stream whose first event is the role-only opening (sent at once), then -chunks
// content events (one token each) -gap apart, the first one -gap after the request, then the
// finish event (with usage when stream_options.include_usage is set) and data: [DONE]. Without
// "stream": true it answers one chat.completion. GET /v1/models answers readiness probes. It
// prints "ready" once it listens.
//
// The clients start -count streams evenly over -spread, each on its own connection, and print one
// JSON object: per-stream errors by reason, time to the first content event (from the moment the
// stream was due) and gaps between content events as quantiles, the time to the TCP connection and
// to the first byte of the answer (from the moment the stream was due), the number of content events, the
// most streams open at once, and the wall-clock times the run began and ended. A stream is an error
// unless it got a 200, -expected content events and data: [DONE], and no error event.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: streamload upstream|clients [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "upstream":
		upstream(os.Args[2:])
	case "clients":
		clients(os.Args[2:])
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

// ---------------------------------------------------------------------------------- upstream

func event(delta string, finish string, usage string) []byte {
	fin := "null"
	if finish != "" {
		fin = `"` + finish + `"`
	}
	body := `{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-model",` +
		`"choices":[{"index":0,"delta":` + delta + `,"logprobs":null,"finish_reason":` + fin + `}]` + usage + `}`
	return []byte("data: " + body + "\n\n")
}

func upstream(args []string) {
	fs := flag.NewFlagSet("upstream", flag.ExitOnError)
	port := fs.Int("port", 0, "port to listen on (127.0.0.1)")
	chunks := fs.Int("chunks", 100, "content events per answer")
	gap := fs.Duration("gap", 50*time.Millisecond, "time between two events")
	_ = fs.Parse(args)
	opening := event(`{"role":"assistant","content":""}`, "", "")
	token := event(`{"content":"tok "}`, "", "")
	usage := fmt.Sprintf(`,"usage":{"prompt_tokens":12,"completion_tokens":%d,"total_tokens":%d}`, *chunks, 12+*chunks)
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/models", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		_, _ = io.WriteString(w, `{"object":"list","data":[{"id":"bench-model","object":"model","owned_by":"bench"}]}`)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
			http.NotFound(w, r)
			return
		}
		var req struct {
			Stream        bool `json:"stream"`
			StreamOptions struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		if !req.Stream {
			w.Header().Set("content-type", "application/json")
			_, _ = io.WriteString(w, `{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,`+
				`"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"`+
				strings.Repeat("tok ", *chunks)+`"},"logprobs":null,"finish_reason":"stop"}]`+usage+`}`)
			return
		}
		flusher := w.(http.Flusher)
		w.Header().Set("content-type", "text/event-stream")
		w.Header().Set("cache-control", "no-cache")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(opening)
		flusher.Flush()
		start := time.Now()
		for i := 1; i <= *chunks; i++ {
			time.Sleep(time.Until(start.Add(time.Duration(i) * *gap)))
			piece := token
			if i == *chunks {
				end := ""
				if req.StreamOptions.IncludeUsage {
					end = usage
				}
				piece = append(append([]byte{}, token...), event(`{}`, "stop", end)...)
				piece = append(piece, []byte("data: [DONE]\n\n")...)
			}
			if _, err := w.Write(piece); err != nil {
				return
			}
			flusher.Flush()
		}
	})
	listener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("ready")
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	_ = server.Serve(listener)
}

// ----------------------------------------------------------------------------------- clients

type stream struct {
	first   time.Time
	events  int
	gaps    []float64
	err     string
	ttft    float64
	connect float64 // seconds from due to the TCP connection being established
	head    float64 // seconds from due to the first byte of the response
}

var contentKey = []byte(`"content":"tok`)
var contentKeySpaced = []byte(`"content": "tok`)

func run(client *http.Client, url, key string, body []byte, due time.Time, expected int) *stream {
	s := &stream{}
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		ConnectDone:          func(string, string, error) { s.connect = time.Since(due).Seconds() },
		GotFirstResponseByte: func() { s.head = time.Since(due).Seconds() },
	}))
	req.Header.Set("content-type", "application/json")
	if key != "" {
		req.Header.Set("authorization", "Bearer "+key)
	}
	req.Close = true
	resp, err := client.Do(req)
	if err != nil {
		s.err = "request: " + strings.TrimSpace(lastPart(err.Error()))
		return s
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		text, _ := io.ReadAll(io.LimitReader(resp.Body, 160))
		s.err = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, text)
		return s
	}
	reader := bufio.NewReaderSize(resp.Body, 16*1024)
	var last time.Time
	done, failed := false, false
	for {
		line, err := reader.ReadSlice('\n')
		if len(line) > 0 {
			now := time.Now()
			if bytes.HasPrefix(line, []byte("data:")) {
				payload := bytes.TrimSpace(line[5:])
				switch {
				case bytes.Equal(payload, []byte("[DONE]")):
					done = true
				case bytes.HasPrefix(payload, []byte(`{"error"`)):
					failed = true
				case bytes.Contains(payload, contentKey) || bytes.Contains(payload, contentKeySpaced):
					if s.events == 0 {
						s.first = now
						s.ttft = now.Sub(due).Seconds()
					} else {
						s.gaps = append(s.gaps, now.Sub(last).Seconds())
					}
					last = now
					s.events++
				}
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			s.err = "read: " + lastPart(err.Error())
			return s
		}
	}
	switch {
	case failed:
		s.err = "an error event in the stream"
	case !done:
		s.err = "the stream ended without data: [DONE]"
	case s.events < expected:
		s.err = fmt.Sprintf("%d content events of %d", s.events, expected)
	}
	return s
}

func lastPart(text string) string {
	if i := strings.LastIndex(text, ": "); i >= 0 && i+2 < len(text) {
		return text[i+2:]
	}
	return text
}

func quantile(values []float64, q float64) *float64 {
	if len(values) == 0 {
		return nil
	}
	i := int(q * float64(len(values)))
	if i >= len(values) {
		i = len(values) - 1
	}
	v := values[i] * 1000
	return &v
}

func clients(args []string) {
	fs := flag.NewFlagSet("clients", flag.ExitOnError)
	url := fs.String("url", "", "chat completions URL")
	model := fs.String("model", "chat", "model to ask for")
	key := fs.String("key", "", "API key (Authorization: Bearer)")
	count := fs.Int("count", 1000, "streams")
	spread := fs.Duration("spread", 5*time.Second, "time over which the streams start")
	expected := fs.Int("expected", 100, "content events each stream must get")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up on a stream after this long")
	_ = fs.Parse(args)
	body, _ := json.Marshal(map[string]any{
		"model": *model, "stream": true,
		"messages": []map[string]string{{"role": "user", "content": "Tell the benchmark a long story."}},
	})
	client := &http.Client{
		Timeout: *timeout,
		Transport: &http.Transport{
			DisableKeepAlives: true, MaxIdleConnsPerHost: -1, DisableCompression: true,
			DialContext: (&net.Dialer{Timeout: *timeout}).DialContext, ResponseHeaderTimeout: *timeout,
		},
	}
	results := make([]*stream, *count)
	var open, most atomic.Int64
	var wg sync.WaitGroup
	began := time.Now().Add(200 * time.Millisecond)
	for i := 0; i < *count; i++ {
		due := began.Add(time.Duration(int64(*spread) * int64(i) / int64(*count)))
		wg.Add(1)
		go func(i int, due time.Time) {
			defer wg.Done()
			time.Sleep(time.Until(due))
			now := open.Add(1)
			for {
				seen := most.Load()
				if now <= seen || most.CompareAndSwap(seen, now) {
					break
				}
			}
			results[i] = run(client, *url, *key, body, due, *expected)
			open.Add(-1)
		}(i, due)
	}
	wg.Wait()
	ended := time.Now()
	var ttfts, gaps, connects, heads []float64
	errors := map[string]int{}
	events := 0
	for _, s := range results {
		events += s.events
		if s.err != "" {
			errors[s.err]++
		}
		if s.events > 0 {
			ttfts = append(ttfts, s.ttft)
		}
		if s.connect > 0 {
			connects = append(connects, s.connect)
		}
		if s.head > 0 {
			heads = append(heads, s.head)
		}
		gaps = append(gaps, s.gaps...)
	}
	sort.Float64s(ttfts)
	sort.Float64s(gaps)
	sort.Float64s(connects)
	sort.Float64s(heads)
	failed := 0
	for _, n := range errors {
		failed += n
	}
	out := map[string]any{
		"streams": *count, "errors": failed, "error_reasons": errors, "content_events": events,
		"ttft_p50_ms": quantile(ttfts, 0.5), "ttft_p99_ms": quantile(ttfts, 0.99),
		"gap_p50_ms": quantile(gaps, 0.5), "gap_p99_ms": quantile(gaps, 0.99),
		"connect_p50_ms": quantile(connects, 0.5), "connect_p99_ms": quantile(connects, 0.99),
		"head_p50_ms": quantile(heads, 0.5), "head_p99_ms": quantile(heads, 0.99),
		"max_open_streams": most.Load(), "began_unix": float64(began.UnixNano()) / 1e9,
		"ended_unix": float64(ended.UnixNano()) / 1e9,
	}
	encoded, _ := json.Marshal(out)
	fmt.Println(string(encoded))
}
