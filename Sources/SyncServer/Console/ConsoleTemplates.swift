import Mustache

/// The console's pages as Mustache templates (swift-mustache: `{{x}}` is
/// HTML-escaped, and no template uses the unescaped forms except `layout`
/// for a body this library rendered itself). Kept in the binary, so a
/// server is one file to deploy. No inline script or style: the
/// Content-Security-Policy is `default-src 'self'`, and the only other file
/// is `style.css`.
enum ConsoleTemplates {
    /// Every template, by name; `layout` wraps the others.
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in templates {
            // The templates are ours and tested: a parse error is a programming error.
            try! library.register(text, named: name)
        }
        return library
    }()

    static let templates: [String: String] = [
        "layout": layout, "sign-in": signIn, "queue": queue, "referral": referral, "history": history, "conflicts": conflicts,
        "devices": devices, "revoke": revoke, "audit": audit, "message": message, "field": field, "known": known, "chronology": chronology,
        "attachment": attachment,
    ]

    static let layout = """
        <!DOCTYPE html>
        <html lang="en-GB">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Front door console</title>
        <link rel="stylesheet" href="/console/style.css">
        </head>
        <body>
        <a class="skip" href="#main">Skip to the page's content</a>
        <header>
        <p class="brand">Front door console</p>
        {{#staff}}
        <nav aria-label="Console">
        <ul>
        {{#intake}}<li><a href="/console/queue"{{#atQueue}} aria-current="page"{{/atQueue}}>Queue</a></li>{{/intake}}
        {{#admin}}<li><a href="/console/conflicts"{{#atConflicts}} aria-current="page"{{/atConflicts}}>Conflicts</a></li>
        <li><a href="/console/devices"{{#atDevices}} aria-current="page"{{/atDevices}}>Devices</a></li>
        <li><a href="/console/audit"{{#atAudit}} aria-current="page"{{/atAudit}}>Audit</a></li>{{/admin}}
        </ul>
        </nav>
        <form class="sign-out" method="post" action="/console/sign-out">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <span>Signed in as {{name}} ({{role}})</span>
        <button type="submit">Sign out</button>
        </form>
        {{/staff}}
        </header>
        <main id="main">
        {{{body}}}
        </main>
        </body>
        </html>
        """

    static let signIn = """
        <h1>Sign in</h1>
        <p>For the front door's duty workers (intake) and admins. Practitioners use <code>field</code> on their own device.</p>
        {{#notice}}<p class="notice" role="status">{{notice}}</p>{{/notice}}
        {{#error}}<p class="error" role="alert" id="sign-in-error">{{error}}</p>{{/error}}
        <form method="post" action="/console/sign-in" class="stacked">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label for="username">User name</label>
        <input id="username" name="username" type="text" autocomplete="username" required value="{{username}}"{{#error}} aria-describedby="sign-in-error"{{/error}}>
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required>
        <label for="code">Code from your authenticator app <span class="hint">(if your account has a second factor)</span></label>
        <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6">
        <button type="submit">Sign in</button>
        </form>
        """

    static let queue = """
        <h1>Queue</h1>
        <p>Submitted referrals, the most urgent first: undecided referrals at immediate risk, then whatever is due next (the acknowledgement, then the decision). Times are {{zone}}.</p>
        <ul class="counts" aria-label="Undecided referrals">
        {{#counts}}<li{{#alarm}} class="alarm"{{/alarm}}><strong>{{count}}</strong> {{label}}</li>{{/counts}}
        </ul>
        {{#overdueCount}}<p class="overdue-banner" role="alert"><strong>OVERDUE:</strong> {{overdueCount}} referral(s) not acknowledged or decided by their deadline.</p>{{/overdueCount}}
        <form method="get" action="/console/queue" class="inline search" role="search">
        <input type="hidden" name="view" value="{{view}}">
        <label for="search">Find</label>
        <input id="search" name="q" type="search" value="{{search}}" placeholder="child's name, reference, agency, NHS number or id" size="40">
        <label for="filter-rating">RAG</label>
        <select id="filter-rating" name="rating"><option value="">any</option>{{#ratings}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/ratings}}</select>
        <label for="filter-agency">Agency</label>
        <select id="filter-agency" name="agency"><option value="">any</option>{{#agencies}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/agencies}}</select>
        <button type="submit">Find</button>
        {{#filtered}}<a href="/console/queue?view={{view}}">Clear</a>{{/filtered}}
        </form>
        <nav aria-label="Which referrals">
        <ul class="filters">
        {{#views}}<li><a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a></li>{{/views}}
        <li><a href="{{csv}}" download>Download this view (CSV)</a></li>
        </ul>
        </nav>
        {{#hasRows}}
        <table class="queue">
        <caption>{{caption}}</caption>
        <thead><tr><th scope="col">Reference</th><th scope="col">Child</th><th scope="col">Urgency</th><th scope="col">Agency</th><th scope="col">Acknowledge by</th><th scope="col">Decide by</th><th scope="col">Flags</th><th scope="col">RAG rating</th><th scope="col">State</th></tr></thead>
        <tbody>
        {{/hasRows}}
        {{#rows}}
        <tr class="{{tint}}">
        <td class="nowrap"><a href="/console/referrals/{{id}}">{{reference}}</a><br><span class="hint">{{kind}}</span></td>
        <td>{{child}}</td>
        <td>{{#immediateRisk}}<strong class="flag risk">IMMEDIATE RISK</strong> {{/immediateRisk}}{{#notSafeNow}}<strong class="flag risk">NOT SAFE NOW</strong> {{/notSafeNow}}{{#deadline}}<span class="deadline">Referrer's deadline: {{deadline}}</span>{{/deadline}}</td>
        <td>{{agency}}</td>
        <td>{{acknowledgeDue}}{{#acknowledgeOverdue}} <strong class="flag overdue-flag">OVERDUE</strong>{{/acknowledgeOverdue}}</td>
        <td>{{#decideDue}}{{decideDue}}{{/decideDue}}{{^decideDue}}decided{{/decideDue}}{{#decisionOverdue}} <strong class="flag overdue-flag">OVERDUE</strong>{{/decisionOverdue}}</td>
        <td>{{#lado}}<strong class="flag lado">LADO</strong> {{/lado}}{{#sameNHS}}<strong class="flag same-nhs">SAME NHS NUMBER as <a href="/console/referrals/{{id}}">{{reference}}</a></strong> {{/sameNHS}}{{#knownReferrals}}<strong class="flag known-referrals">KNOWN TO THE FRONT DOOR: {{knownReferrals}}</strong> {{/knownReferrals}}{{#possibleMatches}}<span class="flag possible">{{possibleMatches}}</span> {{/possibleMatches}}{{#accumulation}}<strong class="flag accumulation">{{accumulation}}</strong> {{/accumulation}}{{#changed}}<strong class="flag changed">CHANGED since the front door saw it</strong> {{/changed}}{{#conflicts}}<span class="flag">{{conflicts}} open conflict(s)</span>{{/conflicts}}</td>
        <td>{{#rating}}<span class="rag rag-{{rating}}">{{ratingTitle}}</span>{{/rating}}{{^rating}}not rated{{/rating}}</td>
        <td>{{state}}</td>
        </tr>
        {{/rows}}
        {{#hasRows}}
        </tbody>
        </table>
        {{/hasRows}}
        {{^rows}}<p>No referrals in this view.</p>{{/rows}}
        """

    static let referral = """
        <div class="referral">
        <div class="content">
        <p class="kicker">{{kindTitle}} · reference <strong>{{reference}}</strong> · submitted {{submitted}} by {{owner}}</p>
        <h1>{{heading}}</h1>
        {{#notice}}<p class="notice" role="status">{{notice}}</p>{{/notice}}
        {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
        <section class="concern" aria-labelledby="concern-heading">
        <h2 id="concern-heading">The concern</h2>
        <p class="summary">{{#summary}}{{summary}}{{/summary}}{{^summary}}<em>No summary given.</em>{{/summary}}</p>
        <ul class="urgency">
        {{#immediateRisk}}<li><strong class="flag risk">IMMEDIATE RISK</strong> the referrer says a child is at immediate risk of harm</li>{{/immediateRisk}}
        <li class="{{#notSafeNow}}alarm{{/notSafeNow}}">Is the child safe now? <strong>{{safeNow}}</strong></li>
        {{#deadline}}<li class="alarm">The referrer's deadline: <strong>{{deadline}}</strong></li>{{/deadline}}
        {{#lado}}<li><strong class="flag lado">LADO</strong> an allegation against an adult who works with children</li>{{/lado}}
        </ul>
        {{#hasConcern}}<dl class="facts-list">{{/hasConcern}}{{#concern}}<dt>{{label}}</dt><dd class="value">{{value}}</dd>{{/concern}}{{#hasConcern}}</dl>{{/hasConcern}}
        <h3>{{#hasChildren}}Children{{/hasChildren}}{{^children}}No child named yet{{/children}}</h3>
        <ul class="children">{{#children}}<li><strong>{{name}}</strong>{{#details}}: {{details}}{{/details}}</li>{{/children}}</ul>
        </section>
        <section aria-labelledby="referrer-heading">
        <h2 id="referrer-heading">The referrer, and how to reach them</h2>
        {{#hasReferrer}}<dl class="facts-list">{{/hasReferrer}}{{#referrer}}<dt>{{label}}</dt><dd class="value">{{value}}</dd>{{/referrer}}{{#hasReferrer}}</dl>{{/hasReferrer}}
        {{^referrer}}<p>The referrer gave no details.</p>{{/referrer}}
        <p>Identity: {{anonymity}}. Consent: {{consent}}.</p>
        </section>
        <section aria-labelledby="attachments-heading">
        <h2 id="attachments-heading">Attachments</h2>
        {{#hasAttachments}}
        <p class="hint">Each opens only when asked; every view and download is in the audit trail.</p>
        <table class="attachments">
        <thead><tr><th>#</th><th>What it is</th><th>Kind</th><th>Size</th><th>Sent by, and when the server took it</th><th>SHA-256</th><th></th></tr></thead>
        <tbody>
        {{#attachments}}<tr><td>{{position}}</td><td>{{label}}</td><td>{{kind}}</td><td>{{size}}</td><td>{{attachedBy}}, {{device}}, {{at}}</td><td><code title="{{sha256}}">{{short}}…</code></td><td>{{#held}}<a href="{{view}}">View</a> · <a href="{{download}}">Download</a>{{/held}}{{^held}}not received{{/held}}</td></tr>{{/attachments}}
        </tbody>
        </table>
        {{/hasAttachments}}
        {{^hasAttachments}}<p>No attachments.</p>{{/hasAttachments}}
        </section>
        <section aria-labelledby="record-heading">
        <h2 id="record-heading">The front door's record</h2>
        <ul class="facts">
        <li>Acknowledgement: {{#acknowledged}}{{acknowledged}}{{/acknowledged}}{{^acknowledged}}not yet acknowledged{{/acknowledged}} <span class="shared">(the referrer sees it)</span></li>
        <li>RAG rating: {{#rating}}<span class="rag rag-{{rating}}">{{ratingTitle}}</span> ({{ratedBy}}, {{ratedAt}}) <span class="shared">(the rating reaches the referrer)</span>; reason: {{ratingReason}} {{#ratingFeedback}}<span class="shared">(sent to the referrer as feedback)</span>{{/ratingFeedback}}{{^ratingFeedback}}<span class="internal">(internal: not sent to the referrer)</span>{{/ratingFeedback}}{{/rating}}{{^rating}}not rated{{/rating}}</li>
        <li>Decision: {{^decisions}}none yet{{/decisions}}{{#hasDecisions}}<span class="shared">(the outcome, feedback note and any reason for a change reach the referrer)</span><ol class="decisions">{{/hasDecisions}}{{#decisions}}<li>{{#current}}<strong>Current:</strong> {{/current}}{{^current}}Earlier: {{/current}}{{title}} ({{by}}, {{at}}){{#reason}}; changed because: {{reason}}{{/reason}}<p class="note">{{note}}</p></li>{{/decisions}}{{#hasDecisions}}</ol>{{/hasDecisions}}</li>
        {{#seen}}<li>Seen, decision stands: {{seen}} <span class="internal">(the note is internal; the referrer sees that their change was seen)</span></li>{{/seen}}
        {{#sameNHS}}<li><strong class="flag same-nhs">SAME NHS NUMBER</strong>: the open referral <a href="/console/referrals/{{id}}">{{reference}}</a> names a child with the same NHS number.</li>{{/sameNHS}}
        {{#conflictCount}}<li><strong class="flag">{{conflictCount}} open conflict(s)</strong>, marked below; an admin settles them.</li>{{/conflictCount}}
        {{#missingCount}}<li>{{missingCount}} thing(s) the guidance expects are missing, marked below.</li>{{/missingCount}}
        <li><a href="/console/referrals/{{id}}/history">The whole history</a>: every value, who wrote it, when and from which device. Receipt of the first submission: {{receipt}}. Id <code>{{id}}</code>.</li>
        </ul>
        {{#hasChanges}}
        <div class="changed-box" role="status">
        <p><strong class="flag changed">CHANGED</strong> since the front door {{changedSince}}:</p>
        <ul>{{#changes}}<li><a href="#answer-{{anchor}}">{{question}}</a>: <del>{{previous}}</del> → <ins>{{value}}</ins> ({{by}}, {{at}})</li>{{/changes}}</ul>
        </div>
        {{/hasChanges}}
        </section>
        {{#known}}{{> known}}{{/known}}
        {{#sections}}
        <section aria-labelledby="section-{{key}}">
        <h2 id="section-{{key}}">{{title}}</h2>
        {{#items}}
        {{#label}}<h3>{{label}}</h3>{{/label}}
        <dl>
        {{#answered}}{{> field}}{{/answered}}
        </dl>
        {{#hasUnanswered}}<details class="unanswered"><summary>{{unansweredCount}} question(s) not answered</summary><dl>{{/hasUnanswered}}{{#unanswered}}{{> field}}{{/unanswered}}{{#hasUnanswered}}</dl></details>{{/hasUnanswered}}
        {{/items}}
        {{^items}}<p>{{emptyText}}</p>{{/items}}
        </section>
        {{/sections}}
        </div>
        <aside class="panel" aria-labelledby="clocks-heading">
        <h2 id="clocks-heading">Clocks</h2>
        <ul class="clocks">
        {{#clocks}}<li class="{{#alarm}}alarm{{/alarm}}"><strong>{{title}}</strong>: {{#due}}by {{due}}, {{/due}}<strong>{{state}}</strong>{{#text}}: “{{text}}”{{/text}}<br><span class="hint">Rule: {{rule}}.</span></li>{{/clocks}}
        </ul>
        <p class="hint">Times are {{zone}}. The rules' source: {{clockSources}}.</p>
        {{#canAct}}
        <h2 id="actions">Record</h2>
        {{^acknowledged}}
        <form method="post" action="/console/referrals/{{id}}/acknowledge">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <button type="submit">Acknowledge</button>
        </form>
        {{/acknowledged}}
        <form method="post" action="/console/referrals/{{id}}/rating" class="stacked">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <fieldset>
        <legend>RAG rating <span class="hint">(a new rating restarts the decision clock)</span></legend>
        {{#ratings}}<label class="choice"><input type="radio" name="rating" value="{{value}}" required{{#current}} checked{{/current}}> {{title}}</label>{{/ratings}}
        </fieldset>
        <label for="rating-reason">Reason for the rating <span class="hint">(internal)</span></label>
        <textarea id="rating-reason" name="reason" rows="3" required maxlength="2000">{{draftRatingReason}}</textarea>
        <label class="choice"><input type="checkbox" id="rating-feedback" name="feedback" value="yes"> Also send this reason to the referrer as feedback</label>
        <button type="submit">Record rating</button>
        </form>
        {{#hasChanges}}
        <form method="post" action="/console/referrals/{{id}}/seen" class="stacked">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label for="seen-note">Seen: the decision stands, because <span class="hint">(internal; clears CHANGED)</span></label>
        <textarea id="seen-note" name="note" rows="2" required maxlength="2000">{{draftSeenNote}}</textarea>
        <button type="submit">Seen: decision stands</button>
        </form>
        {{/hasChanges}}
        <form method="post" action="/console/referrals/{{id}}/decision" class="stacked">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label for="outcome">Outcome</label>
        <select id="outcome" name="outcome" required>
        <option value="">Choose an outcome</option>
        {{#outcomes}}<option value="{{value}}">{{title}}</option>{{/outcomes}}
        </select>
        <label for="note">Feedback to the referrer <span class="hint">(sent to the referrer)</span></label>
        <textarea id="note" name="note" rows="4" required maxlength="10000">{{draftNote}}</textarea>
        {{#decided}}
        <label for="change-reason">Why the decision changes <span class="hint">(required; sent to the referrer with the decision; the earlier decision stays on the record)</span></label>
        <textarea id="change-reason" name="reason" rows="2" required maxlength="2000">{{draftReason}}</textarea>
        {{/decided}}
        <button type="submit">Record decision</button>
        </form>
        {{/canAct}}
        </aside>
        </div>
        """

    /// One attachment, shown because the reader asked (`AttachmentPage`):
    /// an image inline, a PDF behind a link that opens it.
    static let attachment = """
        <p class="kicker">Referral <a href="/console/referrals/{{id}}">{{reference}}</a> · attachment {{position}} of {{count}}</p>
        <h1>{{label}}</h1>
        <p>{{kind}}, {{size}}, sent by {{attachedBy}} ({{device}}); the server took it on {{at}}. SHA-256 <code>{{sha256}}</code>, checked by the server when it arrived.</p>
        <p class="hint">Viewing or downloading it is recorded in the audit trail under your name.</p>
        {{#image}}<figure class="attachment"><img src="{{content}}" alt="{{label}}"></figure>{{/image}}
        {{^image}}{{#pdf}}<p><a href="{{content}}">Open the PDF</a></p>{{/pdf}}{{^pdf}}<p>Browsers cannot show a {{kind}} photo: download it to open it.</p>{{/pdf}}{{/image}}
        <p><a href="{{download}}">Download</a> · <a href="/console/referrals/{{id}}">Back to the referral</a></p>
        """

    static let history = """
        <p class="kicker"><a href="/console/referrals/{{id}}">Back to referral {{reference}}</a></p>
        <h1>{{heading}}</h1>
        <p>Every entry of the referral's change log, oldest first: each value written, each conflict candidate and resolution, each acknowledgement, rating, decision and "seen" note, with who, when and from which device. Times are {{zone}}. <a href="{{csv}}" download>Download (CSV)</a></p>
        <table class="history">
        <caption>{{count}} entries</caption>
        <thead><tr><th scope="col">#</th><th scope="col">When</th><th scope="col">What</th><th scope="col">Question</th><th scope="col">Value</th><th scope="col">Who</th><th scope="col">Device</th><th scope="col">Reaches the referrer</th></tr></thead>
        <tbody>{{#entries}}<tr><td>{{revision}}</td><td class="nowrap">{{at}}</td><td>{{what}}{{#reason}}: {{reason}}{{/reason}}</td><td>{{question}}</td><td class="value">{{value}}</td><td>{{by}}</td><td>{{device}}</td><td>{{shared}}</td></tr>{{/entries}}</tbody>
        </table>
        """

    /// "Known to the front door" on the referral page (`KnownSection`).
    static let known = """
        <section aria-labelledby="known-heading" class="known">
        <h2 id="known-heading">Known to the front door</h2>
        {{#recentFlag}}<p><strong class="flag known-referrals">KNOWN TO THE FRONT DOOR: {{recentFlag}}</strong></p>{{/recentFlag}}{{^recentFlag}}<p>{{recent}}</p>{{/recentFlag}}
        {{#accumulation}}<p><strong class="flag accumulation">{{accumulation}}</strong></p>{{/accumulation}}
        <p class="hint">The same child: the same NHS number, or a match intake confirmed. A possible match is only a suggestion, with its reasons. Nothing is merged: each referral stays as it was sent.</p>
        {{#hasKnown}}
        <table class="known-referrals">
        <caption>Other referrals about these children or this household, oldest first</caption>
        <thead><tr><th scope="col">Submitted</th><th scope="col">Reference</th><th scope="col">Agency</th><th scope="col">RAG</th><th scope="col">Outcome</th><th scope="col">Concern</th><th scope="col">Why it is here</th></tr></thead>
        <tbody>{{#known}}<tr><td class="nowrap">{{submitted}}</td><td><a href="/console/referrals/{{id}}">{{reference}}</a></td><td>{{agency}}</td><td>{{rating}}</td><td>{{outcome}}</td><td class="value">{{summary}}</td><td>{{why}}</td></tr>{{/known}}</tbody>
        </table>
        {{/hasKnown}}
        {{^hasKnown}}<p>No other referral about these children or this household.</p>{{/hasKnown}}
        {{#children}}
        <h3>{{name}}</h3>
        <p><a href="/console/referrals/{{id}}/children/{{item}}">Chronology: {{chronologyCount}} referral(s) about this child</a></p>
        {{#hasPossible}}<ul class="possible-matches">{{/hasPossible}}
        {{#possible}}<li><strong class="flag possible">POSSIBLE MATCH ({{score}}/100)</strong>: {{who}} in <a href="/console/referrals/{{referral.id}}">{{referral.reference}}</a> ({{referral.agency}}, {{referral.submitted}}). Why: {{reasons}}.
        {{#canMatch}}<form method="post" action="/console/referrals/{{id}}/matches" class="match-form">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="person" value="{{person}}"><input type="hidden" name="other" value="{{other}}">
        <label>Reason <input name="reason" required maxlength="2000" size="40"></label>
        <button type="submit" name="decision" value="confirm">Same child: confirm</button> <button type="submit" name="decision" value="reject" class="secondary">Not the same child: reject</button>
        </form>{{/canMatch}}</li>{{/possible}}
        {{#hasPossible}}</ul>{{/hasPossible}}
        {{#same}}<p>Same child in <a href="/console/referrals/{{referral.id}}">{{referral.reference}}</a>: {{who}}{{#reasons}} ({{reasons}}){{/reasons}}{{#decided}}; confirmed by {{decided}}{{/decided}}.
        {{#decided}}{{#canMatch}}<form method="post" action="/console/referrals/{{id}}/matches" class="match-form"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="person" value="{{person}}"><input type="hidden" name="other" value="{{other}}"><label>Reason <input name="reason" required maxlength="2000" size="30"></label> <button type="submit" name="decision" value="undo" class="secondary">Undo</button></form>{{/canMatch}}{{/decided}}</p>{{/same}}
        {{#hasRejected}}<details><summary>Rejected matches (not suggested again)</summary><ul>{{/hasRejected}}
        {{#rejected}}<li>Not the same child: {{who}} in <a href="/console/referrals/{{referral.id}}">{{referral.reference}}</a>; rejected by {{decided}}.
        {{#canMatch}}<form method="post" action="/console/referrals/{{id}}/matches" class="match-form"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="person" value="{{person}}"><input type="hidden" name="other" value="{{other}}"><label>Reason <input name="reason" required maxlength="2000" size="30"></label> <button type="submit" name="decision" value="undo" class="secondary">Undo</button></form>{{/canMatch}}</li>{{/rejected}}
        {{#hasRejected}}</ul></details>{{/hasRejected}}
        {{/children}}
        </section>
        """

    /// One child's chronology (`ChronologyPage`).
    static let chronology = """
        <p class="kicker"><a href="/console/referrals/{{id}}#known-heading">Back to referral {{reference}}</a></p>
        <h1>{{heading}}</h1>
        <p><strong class="flag known-referrals">{{recent}}</strong></p>
        {{#accumulation}}<p><strong class="flag accumulation">{{accumulation}}</strong></p>{{/accumulation}}
        <p>Every referral about this child, oldest first: this one, those with the same NHS number, and those intake confirmed as the same child. Possible matches not yet confirmed are on the referral's page. Times are {{zone}}.</p>
        <table class="chronology">
        <thead><tr><th scope="col">Submitted</th><th scope="col">Reference</th><th scope="col">Agency</th><th scope="col">RAG</th><th scope="col">Outcome</th><th scope="col">Concern</th></tr></thead>
        <tbody>{{#entries}}<tr{{#current}} class="current"{{/current}}><td class="nowrap">{{submitted}}</td><td><a href="/console/referrals/{{id}}">{{reference}}</a>{{#current}} (this referral){{/current}}</td><td>{{agency}}</td><td>{{rating}}</td><td>{{outcome}}</td><td class="value">{{summary}}</td></tr>{{/entries}}</tbody>
        </table>
        """

    static let field = """
        <div class="answer{{#missing}} missing{{/missing}}{{#conflict}} in-conflict{{/conflict}}" id="answer-{{anchor}}">
        <dt>{{question}}</dt>
        <dd>{{#value}}<span class="value">{{value}}</span>{{/value}}{{^value}}<em>not answered</em>{{/value}}
        {{#missing}}<p class="missing-note"><strong>Missing:</strong> {{missing}}</p>{{/missing}}
        {{#changed}}<p class="changed-note"><strong>Changed</strong> by {{changedBy}}, {{changedAt}}; before: <del>{{previous}}</del></p>{{/changed}}
        {{#conflict}}<p class="conflict-note"><strong>Open conflict</strong>, waiting for an admin; candidates:</p><ol>{{#candidates}}<li>{{value}} ({{author}}, {{device}}, {{time}})</li>{{/candidates}}</ol>{{/conflict}}
        </dd>
        </div>
        """

    static let conflicts = """
        <h1>Conflicts</h1>
        <p>Two devices changed the same answer without seeing each other's change. Pick the candidate that stands, or write a merged value; the reason is kept with the decision, and every device gets the result on its next sync.</p>
        {{#notice}}<p class="notice" role="status">{{notice}}</p>{{/notice}}
        {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
        <h2>Open</h2>
        {{^open}}<p>No open conflicts.</p>{{/open}}
        {{#open}}
        <section class="conflict" aria-labelledby="conflict-{{id}}">
        <h3 id="conflict-{{id}}">{{question}}</h3>
        <p>Referral <a href="/console/referrals/{{record}}">{{record}}</a>, answer <code>{{path}}</code>.</p>
        <form method="post" action="/console/conflicts/{{id}}/resolve" class="stacked">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <table>
        <caption>Candidates, in the order they arrived</caption>
        <thead><tr><th scope="col">Pick</th><th scope="col">Value</th><th scope="col">Author</th><th scope="col">Device</th><th scope="col">Time</th></tr></thead>
        <tbody>
        {{#candidates}}<tr><td class="nowrap"><input type="radio" id="pick-{{conflict}}-{{number}}" name="pick" value="{{number}}"><label for="pick-{{conflict}}-{{number}}">Candidate {{number}}</label></td><td>{{value}}</td><td>{{author}}</td><td>{{device}}</td><td>{{time}}</td></tr>{{/candidates}}
        </tbody>
        </table>
        <label for="value-{{id}}">Or a merged value <span class="hint">(leave empty to use the candidate picked above{{#choices}}; one of: {{choices}}{{/choices}})</span></label>
        <textarea id="value-{{id}}" name="value" rows="2"></textarea>
        <label for="reason-{{id}}">Reason</label>
        <textarea id="reason-{{id}}" name="reason" rows="2" required maxlength="2000"></textarea>
        <button type="submit">Resolve</button>
        </form>
        </section>
        {{/open}}
        <h2>Resolved</h2>
        {{^resolved}}<p>None yet.</p>{{/resolved}}
        {{#hasResolved}}<table><caption>Resolved conflicts, with the decision</caption><thead><tr><th scope="col">Answer</th><th scope="col">Referral</th><th scope="col">Value chosen</th><th scope="col">By</th><th scope="col">When</th><th scope="col">Reason</th></tr></thead><tbody>{{/hasResolved}}
        {{#resolved}}<tr><td>{{question}}</td><td><a href="/console/referrals/{{record}}">{{record}}</a></td><td>{{value}}</td><td>{{by}}</td><td>{{at}}</td><td>{{reason}}</td></tr>{{/resolved}}
        {{#hasResolved}}</tbody></table>{{/hasResolved}}
        """

    static let devices = """
        <h1>Devices</h1>
        {{#notice}}<p class="notice" role="status">{{notice}}</p>{{/notice}}
        {{#erasedCount}}<p class="overdue-banner" role="alert"><strong>UNSENT WORK ERASED:</strong> {{erasedCount}} revoked device(s) erased referrals the server never received. Phone each referrer (the device's user) about them.</p>{{/erasedCount}}
        <p>Every user and their devices. Revoking a device ends its token at once; the device erases its referral data at its next contact and reports the wipe, with any unsent work it destroyed.</p>
        <table>
        <caption>Users</caption>
        <thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col">Added</th><th scope="col">State</th></tr></thead>
        <tbody>{{#users}}<tr><td>{{name}}</td><td>{{role}}</td><td>{{created}}</td><td>{{state}}</td></tr>{{/users}}</tbody>
        </table>
        <table>
        <caption>Devices</caption>
        <thead><tr><th scope="col">Device</th><th scope="col">User</th><th scope="col">Registered</th><th scope="col">Last sync</th><th scope="col">State</th><th scope="col">Action</th></tr></thead>
        <tbody>
        {{#devices}}<tr{{#erased}} class="overdue"{{/erased}}><td><code>{{id}}</code></td><td>{{user}}</td><td>{{registered}}</td><td>{{lastSync}}</td><td>{{state}}{{#erased}} <strong class="flag overdue-flag">UNSENT WORK ERASED</strong> {{erased}}{{/erased}}</td><td>{{^revoked}}<a href="/console/devices/{{id}}/revoke">Revoke…</a>{{/revoked}}</td></tr>{{/devices}}
        </tbody>
        </table>
        """

    static let revoke = """
        <h1>Revoke device {{id}}?</h1>
        <p>It belongs to {{user}}, registered {{registered}}, last synced {{lastSync}}. Revoking cannot be undone: the device can no longer sync, and it erases its referral data at its next contact. Changes it has not sent yet are lost with it, and it reports which.</p>
        <form method="post" action="/console/devices/{{id}}/revoke">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="confirm" value="yes">
        <fieldset>
        <legend>How</legend>
        <p><input type="radio" id="mode-erase" name="mode" value="erase" checked> <label for="mode-erase">Lost or stolen: refuse everything from it and erase it</label></p>
        <p><input type="radio" id="mode-send-submitted" name="mode" value="send-submitted"> <label for="mode-send-submitted">In its owner's hands (a leaver): take its submitted referrals first, then erase it</label></p>
        </fieldset>
        <button type="submit" class="danger">Revoke this device</button>
        <a href="/console/devices">Keep it</a>
        </form>
        """

    static let audit = """
        <h1>Audit trail</h1>
        <p class="{{verifiedClass}}" role="status"><strong>Chain check:</strong> {{verification}}</p>
        <form method="get" action="/console/audit" class="inline">
        <label for="filter-user">User</label> <input id="filter-user" name="user" type="text" value="{{user}}">
        <label for="filter-referral">Referral</label> <input id="filter-referral" name="referral" type="text" value="{{referral}}">
        <label for="filter-action">Action</label> <input id="filter-action" name="action" type="text" value="{{action}}">
        <button type="submit">Filter</button>
        </form>
        <table>
        <caption>{{caption}}</caption>
        <thead><tr><th scope="col">#</th><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Referral</th><th scope="col">Detail</th></tr></thead>
        <tbody>{{#entries}}<tr><td>{{id}}</td><td>{{at}}</td><td>{{actor}}</td><td>{{action}}</td><td>{{record}}</td><td>{{detail}}</td></tr>{{/entries}}</tbody>
        </table>
        """

    static let message = """
        <h1>{{heading}}</h1>
        <p>{{text}}</p>
        <p><a href="{{link}}">{{linkText}}</a></p>
        """

    /// The one stylesheet. Focus is always visible; colour never carries
    /// meaning alone (flags and ratings are words too).
    static let stylesheet = """
        :root { color-scheme: light; --ink: #0b0c0c; --muted: #505a5f; --line: #b1b4b6; --focus: #ffdd00; --link: #1d70b8; }
        * { box-sizing: border-box; }
        figure.attachment img { max-width: 100%; height: auto; border: 1px solid var(--line); }
        table.attachments td, table.attachments th { text-align: left; padding: 0.25rem 0.5rem; vertical-align: top; }
        table.attachments td:nth-child(4), table.attachments td:last-child { white-space: nowrap; }
        figure.attachment { margin: 1rem 0; }
        body { margin: 0; font: 1rem/1.5 system-ui, sans-serif; color: var(--ink); background: #fff; }
        header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .5rem 1rem; border-bottom: 4px solid var(--ink); }
        .brand { font-weight: 700; margin: 0; }
        nav ul { list-style: none; display: flex; gap: 1rem; margin: 0; padding: 0; flex-wrap: wrap; }
        a { color: var(--link); }
        a[aria-current="page"] { font-weight: 700; color: var(--ink); }
        main { padding: 1rem; max-width: 80rem; }
        .skip { position: absolute; left: -999px; }
        .skip:focus { left: 1rem; top: 1rem; background: var(--focus); padding: .5rem; }
        :focus-visible { outline: 3px solid var(--ink); box-shadow: 0 0 0 6px var(--focus); }
        .sign-out { margin-left: auto; display: flex; gap: .5rem; align-items: center; }
        table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
        caption { text-align: left; font-weight: 700; padding: .25rem 0; }
        th, td { border-bottom: 1px solid var(--line); padding: .4rem .5rem; text-align: left; vertical-align: top; }
        tr.overdue td { background: #fbe9e9; }
        tr.risk td { background: #f6d7d2; }
        tr.risk td:first-child, tr.overdue td:first-child { border-left: 6px solid #a0241e; }
        .counts { list-style: none; display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; padding: 0; margin: .5rem 0; }
        .counts .alarm { color: #a0241e; font-weight: 700; }
        .search { margin: .5rem 0; }
        .deadline { display: block; font-weight: 700; color: #a0241e; }
        .referral { display: grid; gap: 1.5rem; grid-template-columns: minmax(0, 1fr) 24rem; align-items: start; }
        @media (max-width: 60rem) { .referral { grid-template-columns: 1fr; } }
        .kicker { margin: 0; color: var(--muted); }
        .referral h1 { margin: .2rem 0 .5rem; }
        .concern { border: 3px solid var(--ink); padding: .25rem 1rem .5rem; }
        .concern h2 { margin: .3rem 0; }
        .summary { font-size: 1.2rem; white-space: pre-wrap; margin: .3rem 0; }
        .urgency { margin: .3rem 0; padding-left: 1.2rem; }
        .urgency .alarm, .clocks .alarm { color: #a0241e; font-weight: 700; }
        .facts-list { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: .3rem 0; }
        .facts-list dt { font-weight: 400; color: var(--muted); }
        .facts-list dd { margin: 0; }
        .panel { border-left: 4px solid var(--line); padding-left: 1rem; }
        .panel h2 { margin-top: 0; }
        .clocks { padding-left: 1.2rem; }
        .changed-box { border: 3px solid #005ea5; padding: .25rem 1rem; }
        .shared { color: #00703c; font-size: .85rem; }
        .internal { color: #6f3c00; font-size: .85rem; }
        del { color: var(--muted); }
        ins { text-decoration: none; font-weight: 700; }
        details.unanswered { margin: .3rem 0 1rem; color: var(--muted); }
        @media print {
          header, nav, .skip, .panel form, .panel #actions, .search, .filters, .sign-out { display: none !important; }
          .referral { display: block; }
          .panel { border: 0; padding: 0; }
          main { max-width: none; padding: 0; }
          a { color: inherit; text-decoration: none; }
          details.unanswered { display: none; }
          .concern, .changed-box { break-inside: avoid; }
          body { font-size: 11pt; }
        }
        .flag { display: inline-block; border: 2px solid currentColor; padding: 0 .3rem; font-size: .85rem; }
        .overdue-flag, .risk { color: #a0241e; }
        .overdue-banner { border: 4px solid #a0241e; padding: .5rem 1rem; color: #a0241e; }
        .lado { color: #4c2c92; }
        .same-nhs { color: #6f3c00; }
        .known-referrals, .accumulation { color: #6f3c00; }
        .possible { color: #6f3c00; }
        .match-form { margin: 0.3em 0 0.8em; }
        tr.current { font-weight: bold; }
        .changed { color: #005ea5; }
        .changed-note { margin: .2rem 0; color: #005ea5; }
        .decisions { margin: .2rem 0; }
        .note { margin: 0; white-space: pre-wrap; }
        .rag { padding: 0 .4rem; border: 2px solid var(--ink); }
        .rag-red { background: #f6d7d2; } .rag-amber { background: #ffe9b3; } .rag-green { background: #cce2d8; }
        .stacked { display: flex; flex-direction: column; gap: .4rem; max-width: 40rem; margin: 1rem 0; }
        .inline { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
        .actions { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); }
        fieldset { border: 1px solid var(--line); }
        .choice { display: block; }
        input, select, textarea, button { font: inherit; }
        input[type=text], input[type=password], select, textarea { border: 2px solid var(--ink); padding: .3rem; }
        button { border: 2px solid var(--ink); background: #00703c; color: #fff; padding: .4rem 1rem; cursor: pointer; }
        button.danger { background: #a0241e; }
        button.secondary { background: #f3f2f1; color: var(--ink); }
        .hint { color: var(--muted); font-weight: 400; }
        .nowrap { white-space: nowrap; }
        .error { border-left: 6px solid #a0241e; padding-left: .5rem; color: #a0241e; }
        .notice { border-left: 6px solid #00703c; padding-left: .5rem; }
        .verified { border-left: 6px solid #00703c; padding-left: .5rem; }
        .broken { border-left: 6px solid #a0241e; padding-left: .5rem; color: #a0241e; }
        dl { margin: 0 0 1rem; }
        .answer { padding: .3rem 0; border-bottom: 1px solid #e5e6e7; }
        dt { font-weight: 700; }
        dd { margin: 0 0 0 1rem; }
        .value { white-space: pre-wrap; }
        .missing dt::after { content: " (missing)"; color: #a0241e; font-weight: 400; }
        .missing-note, .conflict-note { margin: .2rem 0; color: #a0241e; }
        .in-conflict { border-left: 6px solid #a0241e; padding-left: .5rem; }
        """
}
