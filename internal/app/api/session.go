package api

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"portico/internal/control"
)

// Sign-in rate limits. Passwords are hashed with argon2id, which takes
// memory and time per attempt: the limits bound both the guessing and the
// work. Per account: 5 attempts at once, then one every 20 seconds; per
// client address: 20 at once, then one every 3 seconds.
var (
	accountRate  = rate.Every(20 * time.Second)
	accountBurst = 5
	addressRate  = rate.Every(3 * time.Second)
	addressBurst = 20
)

// maxLimiters bounds each table of limiters; past it the table is
// cleared, which forgets the slowest attackers first only approximately
// but keeps memory bounded whatever the number of addresses.
const maxLimiters = 65536

// signInLimits holds the sign-in limiters, in memory only: client
// addresses are never written anywhere.
type signInLimits struct {
	mu        sync.Mutex
	accounts  map[string]*rate.Limiter
	addresses map[string]*rate.Limiter
}

func newSignInLimits() *signInLimits {
	return &signInLimits{accounts: map[string]*rate.Limiter{}, addresses: map[string]*rate.Limiter{}}
}

// allow takes one attempt for the account and the address, and returns
// how long to wait when either is over its limit.
func (l *signInLimits) allow(account, address string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	acc := limiter(l.accounts, account, accountRate, accountBurst)
	addr := limiter(l.addresses, address, addressRate, addressBurst)
	ra := acc.ReserveN(now, 1)
	rb := addr.ReserveN(now, 1)
	wait := max(ra.DelayFrom(now), rb.DelayFrom(now))
	if wait > 0 {
		ra.CancelAt(now)
		rb.CancelAt(now)
		return false, wait
	}
	return true, 0
}

func limiter(m map[string]*rate.Limiter, key string, r rate.Limit, burst int) *rate.Limiter {
	l, ok := m[key]
	if !ok {
		if len(m) >= maxLimiters {
			clear(m)
		}
		l = rate.NewLimiter(r, burst)
		m[key] = l
	}
	return l
}

type signInRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// Link is a one-time sign-in link's secret, instead of the address
	// and password.
	Link string `json:"link"`
}

// signIn answers POST /api/v1/session.
func (a *API) signIn(w http.ResponseWriter, r *http.Request) error {
	var req signInRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Link != "" && (req.Email != "" || req.Password != "") {
		return badRequest("link", "send either a link or an e-mail address and password")
	}
	u, sess, err := a.startSession(w, r, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, struct {
		User    userJSON `json:"user"`
		Expires string   `json:"expires"`
	}{userOf(u), stamp(sess.Expires)})
	return nil
}

// StartSession signs a browser in with an e-mail address and password
// as POST /api/v1/session does, under the same limits, and sets the same
// cookie: the dashboard's sign-in form calls it. Its errors are those of
// the API (see Describe).
func (a *API) StartSession(w http.ResponseWriter, r *http.Request, email, password string) (control.User, error) {
	u, _, err := a.startSession(w, r, signInRequest{Email: email, Password: password})
	return u, err
}

func (a *API) startSession(w http.ResponseWriter, r *http.Request, req signInRequest) (control.User, control.Session, error) {
	account := strings.ToLower(strings.TrimSpace(req.Email))
	if req.Link != "" {
		account = "link"
	}
	if ok, wait := a.limits.allow(account, a.trusted.Client(r).String(), a.now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		return control.User{}, control.Session{}, newError(http.StatusTooManyRequests, "rate_limited", "", "too many sign-in attempts: try again in %d seconds", int(wait.Seconds())+1)
	}
	var (
		secret string
		sess   control.Session
		u      control.User
		err    error
	)
	if req.Link != "" {
		secret, sess, u, err = a.svc.SignInWithLink(r.Context(), req.Link)
	} else {
		secret, sess, u, err = a.svc.SignIn(r.Context(), req.Email, req.Password)
	}
	if err != nil {
		return u, sess, err
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: secret, Path: "/", Expires: sess.Expires, MaxAge: int(time.Until(sess.Expires).Seconds()),
		HttpOnly: true, Secure: a.secure(r), SameSite: http.SameSiteLaxMode,
	})
	return u, sess, nil
}

// secure reports whether r arrived over HTTPS, directly or through a
// trusted proxy, so that the cookie is only ever sent back over HTTPS.
func (a *API) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return a.trusted.Contains(clientPeer(r)) && strings.EqualFold(lastValue(r.Header["X-Forwarded-Proto"]), "https")
}

// signOut answers DELETE /api/v1/session.
func (a *API) signOut(w http.ResponseWriter, r *http.Request) error {
	if err := a.EndSession(w, r); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// EndSession signs the browser of r out, as DELETE /api/v1/session does:
// the session ends in the store and the cookie is cleared.
func (a *API) EndSession(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		if err := a.svc.SignOut(r.Context(), c.Value); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: a.secure(r), SameSite: http.SameSiteLaxMode})
	return nil
}

// me answers GET /api/v1/me.
func (a *API) me(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	u, err := a.svc.Me(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		userJSON
		Scope string `json:"scope"`
		Token string `json:"token,omitempty"`
	}{userOf(u), p.Scope.String(), p.Token})
	return nil
}

type mePatch struct {
	Name            *string `json:"name"`
	Password        *string `json:"password"`
	CurrentPassword *string `json:"current_password"`
}

// updateMe answers PATCH /api/v1/me.
func (a *API) updateMe(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	var req mePatch
	if err := decode(r, &req); err != nil {
		return err
	}
	u, err := a.svc.UpdateMe(r.Context(), p, control.UserPatch{Name: req.Name, Password: req.Password, CurrentPassword: req.CurrentPassword})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userOf(u))
	return nil
}
