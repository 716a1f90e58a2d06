package poison

// The word sets and phrase rules. Each set lists phrases separated by '|';
// a phrase is normalised exactly as the scanned text is (NFKC, lower case,
// look-alike letters folded, split into words), so "don't" and "don’t"
// match alike and a phrase in Chinese is matched character by character.
//
// The rules ask for the shape of an instruction to the model, not for
// alarming words: "read" within a few words of "~/.ssh", "do not" "tell"
// "the user", "all" "emails" "must" "be sent to". Words that real tools use
// freely ("important", "must", "token", "ignore", file paths) start no rule
// on their own.
var wordSets = map[string]string{
	// Reading or handing over something.
	"readV": `read|reads|reading|cat|open|opening|load|loading|access|accessing|get|grab|fetch|retrieve|obtain|collect|
		gather|extract|dump|copy|include|including|attach|upload|send|sending|pass|passing|provide|providing|append|embed|
		exfiltrate|leak|steal|harvest|print|output|take|put|place|insert|forward|post|look up|use the contents of|
		contents of|content of|content from|contents from|
		lee|leer|lea|lire|lis|lisez|lesen|lies|ler|leia|leggi|leggere|прочитай|прочитать|прочти|считай|読み取|読んで|
		读取|读|読|읽어|obtén|obtener|récupère|récupérer|hole|holen|envía|enviar|envoie|envoyer|sende|senden|incluye|
		inclure|inclus|füge|invia|inviare|отправь|отправить|发送|送信|pasa|pásalo|passe|übergib|übergeben|copia|copie`,
	// Files and places that hold secrets, as paths or as names.
	"secretPath": `.ssh|ssh key|ssh keys|ssh private key|private ssh key|id rsa|id ed25519|id ecdsa|id dsa|.env|env file|
		dotenv|.aws|aws credentials|.npmrc|.netrc|.pgpass|.git credentials|git credentials|.docker|.kube|kubeconfig|.gnupg|
		gnupg|.bash history|.zsh history|bash history|shell history|etc passwd|etc shadow|passwd|mcp json|
		claude desktop config|.cursor|keychain|wallet dat|seed phrase|recovery phrase|mnemonic phrase|browser cookies|
		cookies file|credentials file|credentials json|service account key|private key file|.config gcloud|
		wallet keys|keystore`,
	// Secrets by name.
	"secretNoun": `api key|api keys|apikey|apikeys|access token|access tokens|auth token|auth tokens|bearer token|
		refresh token|session token|session cookie|session cookies|cookies|password|passwords|passphrase|credentials|
		credential|secrets|secret key|secret keys|private key|private keys|seed phrase|recovery phrase|mnemonic|
		environment variables|env vars|env variables|tokens|ssh key|ssh keys|credit card|card number|cvv|
		social security number|login details|keys and tokens|deployment secrets|contraseña|contraseñas|mot de passe|
		passwort|kennwort|senha|пароль|пароли|密码|密鑰|密钥|パスワード|비밀번호|clave api|clé api|schlüssel`,
	// What a conversation holds.
	"convN": `conversation history|chat history|message history|conversation so far|entire conversation|
		full conversation|whole conversation|complete conversation|previous messages|prior messages|
		all previous messages|all messages so far|conversation log|chat log|chat transcript|conversation transcript|
		context window|everything the user said|user's messages|user messages|all user messages|system prompt|
		previous conversation|past messages|prior conversation|full context|entire context|whole context`,
	// Handing something over, somewhere.
	"xferV": `send|sends|sending|sent|post|posts|forward|forwards|upload|uploads|transmit|transmits|exfiltrate|leak|
		share|pass|passes|include|includes|attach|attaches|append|appends|embed|embeds|put|insert|add|copy|copies|
		mirror|relay|report|email|mail|bcc|cc|log|write|dump|beacon|submit|deliver|route|redirect|
		envía|enviar|envoie|envoyer|sende|senden|invia|inviare|отправь|отправить|发送|送信|pasa|passe|übergib`,
	"dest": `://|@|www|webhook|webhooks|webhook site|ngrok|pastebin|requestbin|pipedream|burpcollaborator|interactsh|
		attacker|attackers|external server|external host|external endpoint|external url|external address|
		external service|external analytics|remote server|remote host|remote endpoint|third party server|collector|
		our server|our endpoint|our api|analytics endpoint|telemetry endpoint|exfil|c2|command and control|
		sidenote|side note|hidden parameter|hidden field|metadata field|notes field|notes parameter|discord webhook|
		telegram bot`,
	"covertAdv": `also|additionally|always|silently|secretly|quietly|covertly|furthermore|in addition|as well|
		at the same time|in the background|behind the scenes|then|afterwards|first|before that|also make sure to|
		y también|además|aussi|également|auch|zusätzlich|também|anche|также|еще|同时|另外|还要|也`,
	"copyN": `copy|copies|duplicate|identical copy|exact copy|mirror|backup|carbon copy|clone`,
	"allQ":  `all|every|any|each|all the|all of the|all future|all subsequent|every subsequent|every single|todos|todas|todos los|todas las|cada|tous|toutes|tous les|toutes les|chaque|alle|jede|jeden|jeder|tutti|tutte|ogni|все|всe|каждый|каждое|所有|每个|每|すべて|全て|모든`,
	"commObj": `email|emails|e mail|e mails|mail|mails|message|messages|payment|payments|transfer|transfers|
		transaction|transactions|funds|invoice|invoices|order|orders|notification|notifications|money|crypto|tokens|
		correos|mensajes|courriels|messages|e mails|nachrichten|emails|письма|сообщения|邮件|消息|メール`,
	"mustW": `must|should|shall|need to|needs to|have to|has to|are to|is to|will|always|are required to|
		is required to|must always|should always|debe|deben|doit|doivent|muss|müssen|deve|devono|должны|должен|必须|必ず`,
	"routeV": `sent|send|go|routed|redirected|forwarded|addressed|directed|cc|cc'd|bcc|bcc'd|copied|delivered|
		transferred|paid|include|be sent|be forwarded|be redirected|be routed|be copied|be addressed|be delivered|
		enviados|envoyés|gesendet|enviados|отправлены|发送到|发到`,
	"routeVact": `send|forward|route|redirect|cc|bcc|copy|deliver|transfer|pay|address|direct`,
	"changeV":   `change|replace|set|override|redirect|substitute|swap|rewrite|modify|alter|update`,
	"recipientN": `recipient|recipients|to address|to field|destination address|receiver|payee|iban|
		account number|wallet address|beneficiary|destinatario|destinataire|empfänger|получатель|收件人`,
	"negW": `do not|don't|dont|never|must not|mustn't|should not|shouldn't|without|no need to|avoid|refrain from|
		do not ever|never ever|not`,
	"tellV": `tell|telling|mention|mentioning|inform|informing|reveal|revealing|notify|notifying|alert|alerting|
		disclose|disclosing|expose|exposing|acknowledge|acknowledging|bring up|warn|warning|let know|make aware|
		explain to|report to|show to`,
	"userN": `user|users|the user|human|person|operator|owner|customer|anyone|them|the person|end user|the human|
		user's|human's|client`,
	"thatW": `that|this|it|these|any of this|the file|anything|about this|about it|about the|these instructions|
		this instruction|this step|the step|what you|that you`,
	"hideML": `no le digas al usuario|no digas al usuario|no menciones|no informes al usuario|sin decirle al usuario|
		sin informar al usuario|no se lo digas|ne dis pas à l'utilisateur|ne le dis pas|ne mentionne pas|
		sans informer l'utilisateur|sans le dire|n'informe pas l'utilisateur|sag dem benutzer nicht|sage dem nutzer nicht|
		erwähne nicht|erwähne es nicht|ohne den benutzer zu informieren|ohne es dem nutzer zu sagen|
		ohne den nutzer zu informieren|não diga ao usuário|não mencione|sem informar o usuário|não conte ao usuário|
		non dire all'utente|non menzionare|senza informare l'utente|non dirlo all'utente|не говори пользователю|
		не сообщай пользователю|не упоминай|не рассказывай|без ведома пользователя|не сообщая пользователю|
		不要告诉用户|不要告知用户|不要提及|不要让用户知道|不要通知用户|别告诉用户|不告诉用户|ユーザーに伝えないで|
		ユーザーに言わないで|ユーザーには知らせない|ユーザーに知らせないで|사용자에게 알리지 마|사용자에게 말하지 마`,
	"covertAdv2": `silently|secretly|covertly|quietly|discreetly|stealthily|surreptitiously|in secret|
		behind the user's back|without the user knowing|without user knowledge|unbeknownst|invisibly|
		en secreto|silenciosamente|en silence|secrètement|heimlich|stillschweigend|em segredo|silenciosamente|
		segretamente|тайно|незаметно|скрытно|悄悄|秘密地|偷偷|こっそり|몰래`,
	"actionV": `send|post|forward|upload|copy|read|include|add|append|call|invoke|run|execute|exfiltrate|collect|
		gather|transfer|cc|bcc|change|modify|replace|redirect|insert|store|save|log|record|write|delete|access|
		retrieve|attach|pass|use|set|envía|enviar|envoie|sende|invia|отправь|发送|送信`,
	"mustNotW": `must not|should not|must never|should never|will not|won't|cannot|can't|need not|
		doesn't need to|does not need to|never|must not ever|is not to|are not to|should not ever|mustn't|shouldn't`,
	"knowV": `know|see|notice|find out|learn|be told|be informed|be aware|be notified|realize|realise|suspect|
		discover|become aware`,
	"hideV": `hide|conceal|mask|obscure|keep secret|keep hidden|keep it secret|keep this secret|keep it hidden|
		keep this hidden|withhold`,
	"from": `from`,
	// Overriding what the model was told.
	"ignoreStrong": `ignore|disregard|forget|pay no attention to|stop following|
		ignora|ignorar|ignorez|ignorer|ignoriere|ignorieren|vergiss|ignori|ignorare|dimentica|olvida|oublie|
		игнорируй|игнорировать|проигнорируй|забудь|忽略|无视|無視|忘记|忘掉|무시`,
	"ignoreWeak": `override|overrides|bypass|bypasses|discard|abandon|neglect|circumvent|disable|suspend|replace`,
	"priorA": `previous|prior|above|earlier|preceding|former|original|initial|all previous|all prior|system|
		safety|security|your|the system|any previous|all your|all the|all other|other|anteriores|previas|précédentes|
		vorherigen|bisherigen|anteriori|precedenti|предыдущие|прежние|之前|以前|先前|上面|所有`,
	"instrStrong": `instructions|instruction|directions|directives|guidelines|guardrails|system prompt|
		system message|system instructions|your programming|your training|rules you were given|
		instrucciones|indicaciones|instructions|consignes|anweisungen|anweisung|instruktionen|instruções|instrucoes|
		istruzioni|инструкции|указания|指令|指示|说明|命令|지시|지침`,
	"instrAny": `instructions|instruction|directions|directives|guidelines|guardrails|rules|policies|
		constraints|restrictions|prompt|prompts|system prompt|safety measures|security checks|safeguards|protections`,
	"newA": `new|updated|real|actual|true|secret|hidden|revised|overriding|priority|true system|real system`,
	"instrN2": `instructions|instruction|directives|directive|orders|system prompt|system instructions|
		task is|goal is|objective is|purpose is|role is|mission is`,
	"roleW": `you are now|from now on you|from now on, you|you will now act|you must now act|you're now|
		act as if you have no|pretend you are|pretend to be|pretend that you|you have been reprogrammed|
		your new role|your new task|your new goal|your new instructions|your real task|your true purpose|
		jailbreak|jailbroken|do anything now|developer mode enabled|ahora eres|a partir de ahora|désormais tu|
		tu es maintenant|du bist jetzt|ab sofort bist du|agora você é|ora sei|теперь ты|从现在开始你|你现在是|今からあなたは`,
	"revealV": `reveal|print|output|show|repeat|leak|disclose|dump|return|send|display|write out|share|expose|
		tell me|recite|copy`,
	"sysPromptN": `system prompt|system message|initial instructions|hidden instructions|your instructions|
		your prompt|developer message|instructions above|your configuration|your guidelines|your rules|
		the instructions you were given|your original instructions|internal instructions`,
	// Steering the whole session.
	"callV": `call|use|consult|invoke|run|execute|check|read|query|trigger|activate|call on|refer to|employ`,
	"thisTool": `this tool|this function|this server|me|this endpoint|this first|this mcp|this plugin|this method|
		this utility|this service|it`,
	"firstW": `first|before any|before every|before all|before each|before other|before anything|at the start|
		at the beginning|as the first step|immediately|before responding|before answering|before doing|prior to any|
		every time|for every request|for each request|on every turn|at all times|before any other|
		before using any|before calling any|before you do anything|before each response|first of all|
		in every conversation|at the start of every|primero|d'abord|zuerst|primeiro|prima|сначала|首先|最初に`,
	"firstStep": `as the first step|very first step|your first step|first thing you do|before using any other tool|
		before calling any other tool|before any other tool|before invoking any other tool|before any other action|
		the first tool you call|before any tool call|before every tool call|before each tool call|
		prior to any other tool|must be called first|must always be called first|always be called first|
		call this tool first|consult this tool first|use this tool first|run this tool first`,
	"prefixStrong": `prefix|prefixed|prepend|prepended|precede|preceded|start with|begin with|starts with|
		begins with|append|appended|suffix|suffixed|end with|ends with|chain|chained`,
	"prefixWeak": `add|include|insert|inject|put|place`,
	"cmdAll": `command|commands|shell command|shell commands|terminal command|terminal commands|bash command|
		bash commands|command line|command lines|tool call|tool calls|function call|function calls|response|responses|
		reply|replies|answer|answers|git commit|git commits|commit message|commit messages|script|scripts|
		invocation|invocations|sql query|sql queries|shell invocation`,
	"cmdShell": `command|commands|shell command|shell commands|terminal command|terminal commands|bash command|
		bash commands|command line|command lines|script|scripts|invocation|invocations|shell invocation|git commit|
		git commits|commit message|commit messages`,
	"mustVerb": `include|start|begin|be prefixed|be preceded|contain|end|be appended|have|carry|be followed|
		start with|begin with|run|execute|be run`,
	"convSink": `include|send|pass|attach|provide|append|add|copy|forward|post|upload|put|insert|embed|dump|
		repeat|summarize|summarise|transcribe|write|log|share|fill|populate|set|filled|filled with|populated|
		populated with|contain|contains|set to`,
	"whenW":    `when|whenever|if|once|each time|every time`,
	"saidW":    `user|human|message|input|prompt|query|request|conversation|chat`,
	"sayV":     `says|say|types|type|writes|write|mentions|mention|contains|contain|includes|include|enters|sends|uses`,
	"triggerA": `trigger|activation|magic|override|master|bypass|backdoor|kill|secret`,
	"phraseN":  `phrase|word|keyword|code|passphrase|sequence|string|password`,
	"backdoor": `backdoor|back door|hidden trigger|trigger phrase|trigger word|activation phrase|magic phrase|
		magic word|override code|override phrase|override protocol|auth override|override auth|bypass code|
		master password|master key|kill switch`,
	// Secrets asked of the person.
	"askV": `provide|send|give|share|enter|paste|supply|input|type|submit|include|attach|read|tell me|upload|
		reply with|respond with|give me|let me know|confirm|verify|re enter|type in|fill in|need|requires|required|
		please provide|proporcione|proporciona|fournir|fournissez|angeben|geben sie|forneça|fornire|предоставь|
		укажите|提供|入力|입력`,
	"purposeW": `in order to|to complete|to continue|to proceed|to finish|to verify|to validate|to authenticate|
		to unlock|to fix|to resolve|required to|needed to|necessary to|so that|so we can|so i can|before we can|
		to process|to finalize|to finalise|to restore|to recover|to confirm|to access|otherwise|for verification|
		for security|to complete this|for this calculation|para completar|pour terminer|um fortzufahren|для завершения|
		以完成|才能`,
	// Third-party content speaking to the model.
	"privacyW": `does not care about privacy|doesn't care about privacy|don't care about privacy|
		do not care about privacy|not care about privacy|privacy does not matter|privacy doesn't matter|
		no privacy concerns|not worried about privacy|doesn't mind sharing|does not mind sharing|
		has given permission|has authorized you|have permission to share|consent has been given|
		is fine with sharing|wants you to share`,
	"goAhead": `go ahead and|feel free to|you are allowed to|you have permission to|you are authorized to|
		it is ok to|it's ok to|it is fine to|you may now`,
	"putV":        `put|add|include|share|post|publish|list|leak|dump|copy|write|create|open|push|commit|reveal|expose`,
	"everythingW": `everything|all|every|any|all of|anything|whatever`,
	"privateA":    `private|personal|other|confidential|internal|secret|hidden|sensitive`,
	"dataN": `repo|repos|repositories|repository|data|files|information|details|emails|documents|messages|
		records|projects|keys|tokens|credentials|addresses|salary|salaries|location|contacts`,
	"noteW": `note|message|instructions|instruction|attention|important|hey|dear|notice|reminder|memo|directive|
		a message|important message|important note|special instructions`,
	"toW": `to|for`,
	"aiN": `ai|ai assistant|llm|llms|assistant|assistants|agent|agents|model|language model|claude|chatgpt|gpt|
		copilot|gemini|cursor|bot|chatbot|ai agent|ai agents|ai model|ai models|large language model|the ai|the assistant|
		the agent|the model|the llm|any ai|any llm|any agent|any assistant`,
	"ifYouAre": `if you are|if you're|if you are an|if you're an|attention|dear|hey|to the|all|any`,
	"readingThis": `reading this|processing this|who reads this|that reads this|seeing this|parsing this|
		summarizing this|summarising this|reviewing this`,
	// Preference and hijacking.
	"alwaysOnly":    `always|only|exclusively|solely`,
	"useV":          `use|call|prefer|choose|pick|select|invoke|route to|default to`,
	"whenIf":        `when|if|for|to|after|once|while|in|with|on`,
	"otherA":        `other|original|real|the other|any other|official|competing|third party|similar|alternative|all other|built in|default`,
	"toolN":         `tool|tools|server|servers|function|functions|plugin|plugins|integration|integrations|implementation|implementations|mcp|mcp server|mcp servers|version|versions`,
	"badA":          `deprecated|broken|unsafe|insecure|outdated|malicious|compromised|unreliable|buggy|not safe|not secure|no longer works|no longer supported|does not work|doesn't work|obsolete|dangerous|disabled|retired|removed|untrusted|fake`,
	"noMatter":      `no matter|regardless of|irrespective of|whatever the|in all cases|under all circumstances|without exception`,
	"insteadW":      `instead of|rather than|in place of|in preference to|over|not the|never the`,
	"otherA2":       `other|another|all other|any other|the other|every other|all the other|remaining`,
	"modifyV":       `modify|modifies|change|changes|override|overrides|alter|alters|affect|affects|hijack|hijacks|intercept|intercepts|redirect|redirects|patch|patches|replace|replaces|influence|influences|take over|takes over|control|controls`,
	"behaviourN":    `behavior|behaviour|behaviors|behaviours|functionality|parameters|arguments|recipient|recipients|output|outputs|results|calls|usage|inputs|destination|target`,
	"whenThisAvail": `when this tool is available|when this tool is present|when this tool is installed|when this tool is loaded|when this tool is enabled|when this tool is active|if this tool is available|if this tool is present|if this tool is installed|while this tool is available|whenever this tool is available|when this server is available|when this server is installed|when this server is connected|if this server is connected|when both tools are available|cuando esta herramienta esté disponible|lorsque cet outil est disponible|wenn dieses tool verfügbar ist`,
	"otherwiseW":    `otherwise|or else|if not|failure to do so|if you don't|if you do not|or the|else the`,
	"subjectN":      `tool|system|application|app|everything|computer|server|it|this|the tool|the system|the application|the server|the program|the process|your computer|the data|data`,
	"failW":         `not work|fail|fails|crash|crashes|break|breaks|stop working|be lost|be deleted|will not function|won't work|malfunction|be corrupted|explode|be wiped|be destroyed|cease to function|not function`,
	"alwaysNever":   `always|never|only ever|make sure to always|be sure to always`,
	"manV":          `recommend|suggest|promote|endorse|advertise|praise|claim|assert|describe|mention our|recomienda|recommande|empfiehl|sugerir`,
	"tellUser":      `assure the user|convince the user|persuade the user|reassure the user|lie to the user|mislead the user|trick the user|deceive the user`,
	"ourA":          `our|our own|our brand|our product|our products|our service|our services|our sponsor|sponsored|this company's|acme`,
	// Sampling requests.
	"addW":       `also|additionally|in addition|as well|secretly|quietly|while you're at it|while you are at it|and then|furthermore|on top of that|at the same time|meanwhile|besides|plus|and also|after that|silently|covertly|then`,
	"gatherV":    `gather|collect|find|search|search for|list|include|extract|read|harvest|look for|grab|retrieve|dump|enumerate|locate|scan for|compile|copy|fetch|send|capture`,
	"nearbyN":    `credentials|secrets|keys|passwords|tokens|api keys|access keys|private keys|deployment secrets|environment variables|env vars|ssh keys|cookies|session tokens|passphrases|certificates|auth tokens|.env|config files|secret files|wallet`,
	"persistW":   `from now on|for all future|in all future|for the rest of|in every future|remember to always|permanently|going forward|in subsequent|all subsequent|in future responses|in future conversations|in all responses|every future|remember this instruction|store this instruction|save this instruction|persist this|for every future|until told otherwise`,
	"directiveW": `always|never|must|include|send|add|call|respond|reply|ignore|append|use|prefix|mention|forward|copy|tell|report|run|execute`,
	"callVs":     `call|invoke|use|run|execute|trigger`,
	"toolWord":   `tool|tools|function|functions`,
	"contentN": `content|contents|file|files|history|conversation|output|result|results|secret|secrets|key|keys|
		password|passwords|credential|credentials|token|tokens|everything|data|environment|prompt|messages|text of|
		config|configuration|instructions`,
	// Form fields that ask for secrets.
	"elicitSecret": `password|passwords|passphrase|passcode|pin|pin code|pin number|api key|apikey|access token|
		auth token|bearer token|refresh token|token|secret|secret key|client secret|private key|ssh key|credit card|
		card number|cvv|cvc|cvv2|security code|expiry date|expiration date|iban|routing number|bank account|
		account number|social security|ssn|seed phrase|recovery phrase|mnemonic|2fa|otp|one time password|
		one time code|totp|verification code|mfa code|credentials|contraseña|mot de passe|passwort|senha|пароль|
		密码|パスワード|비밀번호`,
	// The text is about the thing, not asking for it.
	"exampleW": `for example|e g|such as|example|examples|readme|documentation|docs|detect|detects|detecting|
		detection|scan for|scans for|scanning for|flags|flag|warn about|warns about|looks for|patterns like|
		pattern like|blocks|blocked|protects|protect|prevents|prevent|guards against|never reads|does not read|
		doesn't read|will not read|is not allowed|are not allowed|refuses|rejects|denies|excluded|excludes|
		ignored|ignores|redacts|redacted|masks|masked|not accessible|cannot access|can't access|outside|except|
		list of|such files|sensitive files like|like`,
}

// phraseRules are the rules run over the words. Hard rules describe a
// directive that has no business in a tool's text; soft rules describe
// steering that real servers sometimes use.
var phraseRules = []phraseRule{
	// Reading secrets and handing them over.
	{id: "exfil.secret-file", sev: Hard, ctx: ctxAll, unless: "exampleW",
		why:   "tells the model to read a file that holds secrets",
		steps: []step{{set: "readV"}, {set: "secretPath", gap: 10}}},
	{id: "exfil.secret-file", sev: Hard, ctx: ctxAll, unless: "exampleW",
		why:   "tells the model to pass the contents of a secret file along",
		steps: []step{{set: "secretPath"}, {set: "xferV", gap: 14}, {set: "dest", gap: 10}}},
	{id: "exfil.secret-send", sev: Hard, ctx: ctxAll, unless: "exampleW",
		why:   "tells the model to send secrets or the conversation somewhere",
		steps: []step{{set: "xferV"}, {set: "secretNoun", gap: 10}, {set: "dest", gap: 14}}},
	{id: "exfil.secret-send", sev: Hard, ctx: ctxAll, unless: "exampleW",
		why:   "tells the model to send secrets or the conversation somewhere",
		steps: []step{{set: "xferV"}, {set: "convN", gap: 10}, {set: "dest", gap: 14}}},
	{id: "exfil.destination", sev: Hard, ctx: ctxDef | ctxSampling,
		why:   "tells the model to also send data to an outside address",
		steps: []step{{set: "covertAdv"}, {set: "xferV", gap: 6}, {set: "dest", gap: 16}}},
	{id: "exfil.destination", sev: Hard, ctx: ctxAll,
		why:   "tells the model to send a copy of data to an outside address",
		steps: []step{{set: "xferV"}, {set: "copyN", gap: 5}, {set: "dest", gap: 14}}},
	{id: "exfil.destination", sev: Hard, ctx: ctxAll,
		why:   "tells the model to send something covertly",
		steps: []step{{set: "covertAdv2"}, {set: "xferV", gap: 4}}},
	// Redirecting what other tools do.
	{id: "shadow.redirect", sev: Hard, ctx: ctxAll,
		why:   "tells the model to redirect messages or payments to another recipient",
		steps: []step{{set: "allQ"}, {set: "commObj", gap: 3}, {set: "mustW", gap: 8}, {set: "routeV", gap: 6}}},
	{id: "shadow.redirect", sev: Hard, ctx: ctxAll,
		why:   "tells the model to redirect messages or payments to another recipient",
		steps: []step{{set: "mustW"}, {set: "routeVact", gap: 3}, {set: "allQ", gap: 3}, {set: "commObj", gap: 3}, {set: "dest", gap: 10}}},
	{id: "shadow.redirect", sev: Hard, ctx: ctxAll,
		why:   "tells the model to change who receives a message or payment",
		steps: []step{{set: "changeV"}, {set: "recipientN", gap: 6}, {set: "dest", gap: 12}}},
	{id: "shadow.redirect", sev: Hard, ctx: ctxAll,
		why:   "tells the model who must receive every message or payment",
		steps: []step{{set: "recipientN"}, {set: "mustW", gap: 6}, {set: "dest", gap: 8}}},
	{id: "shadow.conditional", sev: Hard, ctx: ctxDef,
		why:   "changes how the model behaves when this tool is merely installed",
		steps: []step{{set: "whenThisAvail"}}},
	{id: "shadow.behaviour", sev: Hard, ctx: ctxDef,
		why:   "tells the model how other tools must behave",
		steps: []step{{set: "otherA2"}, {set: "toolN", gap: 2}, {set: "mustW", gap: 8}}},
	{id: "shadow.behaviour", sev: Hard, ctx: ctxDef,
		why:   "claims to change the behaviour of other tools",
		steps: []step{{set: "modifyV"}, {set: "behaviourN", gap: 5}, {set: "otherA2", gap: 4}}},
	{id: "shadow.preference", sev: Hard, ctx: ctxDef,
		why:   "disparages other tools or servers so that the model uses this one",
		steps: []step{{set: "otherA"}, {set: "toolN", gap: 3}, {set: "badA", gap: 5}}},
	// Hiding from the person.
	{id: "hide.from-user", sev: Hard, ctx: ctxAll,
		why:   "tells the model to keep something from the user",
		steps: []step{{set: "negW"}, {set: "tellV", gap: 3}, {set: "userN", gap: 5}}},
	{id: "hide.from-user", sev: Hard, ctx: ctxAll,
		why:   "tells the model to keep something from the user",
		steps: []step{{set: "negW"}, {set: "tellV", gap: 2}, {set: "thatW", gap: 2}}},
	{id: "hide.from-user", sev: Hard, ctx: ctxAll,
		why:   "tells the model to keep something from the user",
		steps: []step{{set: "hideML"}}},
	{id: "hide.from-user", sev: Hard, ctx: ctxAll,
		why:   "tells the model the user must not know what it does",
		steps: []step{{set: "userN"}, {set: "mustNotW", gap: 4}, {set: "knowV", gap: 3}}},
	{id: "hide.from-user", sev: Hard, ctx: ctxAll,
		why:   "tells the model to hide something from the user",
		steps: []step{{set: "hideV"}, {set: "from", gap: 6}, {set: "userN", gap: 3}}},
	{id: "hide.covert", sev: Hard, ctx: ctxAll,
		why:   "tells the model to act covertly",
		steps: []step{{set: "covertAdv2"}, {set: "actionV", gap: 3}}},
	// Overriding the model's instructions.
	{id: "inject.override", sev: Hard, ctx: ctxAll,
		why:   "tells the model to ignore its instructions",
		steps: []step{{set: "ignoreStrong"}, {set: "instrStrong", gap: 5}}},
	{id: "inject.override", sev: Hard, ctx: ctxAll,
		why:   "tells the model to ignore its instructions",
		steps: []step{{set: "ignoreStrong"}, {set: "priorA", gap: 3}, {set: "instrAny", gap: 3}}},
	{id: "inject.override", sev: Hard, ctx: ctxAll,
		why:   "tells the model to bypass its instructions or safeguards",
		steps: []step{{set: "ignoreWeak"}, {set: "priorA", gap: 2}, {set: "instrAny", gap: 2}}},
	{id: "inject.override", sev: Hard, ctx: ctxAll,
		why:   "announces new instructions for the model",
		steps: []step{{set: "newA"}, {set: "instrN2", gap: 1}}},
	{id: "inject.role", sev: Hard, ctx: ctxAll,
		why:   "tries to give the model a new role",
		steps: []step{{set: "roleW"}}},
	{id: "inject.reveal", sev: Hard, ctx: ctxAll,
		why:   "asks the model to reveal its instructions",
		steps: []step{{set: "revealV"}, {set: "sysPromptN", gap: 4}}},
	{id: "inject.addressed", sev: Hard, ctx: ctxContent | ctxSampling,
		why:   "addresses the AI model directly, as injected instructions do",
		steps: []step{{set: "noteW"}, {set: "toW", gap: 2}, {set: "aiN", gap: 2}}},
	{id: "inject.addressed", sev: Hard, ctx: ctxContent | ctxSampling,
		why:   "addresses the AI model directly, as injected instructions do",
		steps: []step{{set: "ifYouAre"}, {set: "aiN", gap: 2}, {set: "readingThis", gap: 3}}},
	// Steering the whole session.
	{id: "jump.first", sev: Soft, ctx: ctxDef,
		why:   "asks to be called before anything else, steering the whole session",
		steps: []step{{set: "callV"}, {set: "thisTool", gap: 3}, {set: "firstW", gap: 6}}},
	{id: "jump.first", sev: Soft, ctx: ctxDef,
		why:   "asks to be called before anything else, steering the whole session",
		steps: []step{{set: "firstStep"}}},
	{id: "jump.prefix", sev: Hard, ctx: ctxAll,
		why:   "tells the model to add something to every command or answer",
		steps: []step{{set: "prefixStrong"}, {set: "allQ", gap: 6}, {set: "cmdAll", gap: 4}}},
	{id: "jump.prefix", sev: Hard, ctx: ctxAll,
		why:   "tells the model to add something to every command",
		steps: []step{{set: "prefixWeak"}, {set: "allQ", gap: 12}, {set: "cmdShell", gap: 4}}},
	{id: "jump.prefix", sev: Hard, ctx: ctxAll,
		why:   "tells the model to add something to every command or answer",
		steps: []step{{set: "allQ"}, {set: "cmdAll", gap: 3}, {set: "mustW", gap: 8}, {set: "mustVerb", gap: 4}}},
	{id: "jump.history", sev: Hard, ctx: ctxAll,
		why:   "tells the model to hand over the conversation",
		steps: []step{{set: "convSink"}, {set: "convN", gap: 5}}},
	{id: "jump.trigger", sev: Soft, ctx: ctxDef,
		why:   "sets a trigger on what the user says",
		steps: []step{{set: "whenW"}, {set: "saidW", gap: 3}, {set: "sayV", gap: 3}, {set: "convSink", gap: 8}}},
	{id: "poison.backdoor", sev: Hard, ctx: ctxAll,
		why:   "describes a hidden trigger or backdoor",
		steps: []step{{set: "backdoor"}}},
	{id: "poison.backdoor", sev: Hard, ctx: ctxAll,
		why:   "describes a hidden trigger or backdoor",
		steps: []step{{set: "triggerA"}, {set: "phraseN", gap: 1}, {set: "mustW", gap: 10}}},
	// Asking for secrets.
	{id: "secret.request", sev: Hard, ctx: ctxContent | ctxSampling | ctxElicit,
		why:   "asks for a secret to be handed over",
		steps: []step{{set: "askV"}, {set: "secretNoun", gap: 6}, {set: "purposeW", gap: 14}}},
	{id: "secret.request", sev: Hard, ctx: ctxContent | ctxSampling | ctxElicit,
		why:   "asks for the contents of a secret file",
		steps: []step{{set: "askV"}, {set: "secretPath", gap: 8}}},
	// Third-party content speaking to the model.
	{id: "inject.permission", sev: Hard, ctx: ctxContent | ctxSampling,
		why:   "claims permission to share private data",
		steps: []step{{set: "privacyW"}}},
	{id: "inject.permission", sev: Hard, ctx: ctxContent | ctxSampling,
		why:   "urges the model to publish everything it finds",
		steps: []step{{set: "goAhead"}, {set: "putV", gap: 4}, {set: "everythingW", gap: 5}}},
	{id: "inject.private-data", sev: Hard, ctx: ctxContent | ctxSampling,
		why:   "tells the model to gather private data",
		steps: []step{{set: "readV"}, {set: "allQ", gap: 4}, {set: "privateA", gap: 4}, {set: "dataN", gap: 3}}},
	// Preference and hijacking.
	{id: "steer.preference", sev: Soft, ctx: ctxDef,
		why:   "asks to be used in place of other tools",
		steps: []step{{set: "alwaysOnly"}, {set: "useV", gap: 2}, {set: "thisTool", gap: 2, notNext: "whenIf"}}},
	{id: "steer.preference", sev: Soft, ctx: ctxDef,
		why:   "asks to be used no matter what",
		steps: []step{{set: "useV"}, {set: "noMatter", gap: 5}}},
	{id: "steer.preference", sev: Soft, ctx: ctxDef,
		why:   "asks to be used in place of other tools",
		steps: []step{{set: "useV"}, {set: "thisTool", gap: 2}, {set: "insteadW", gap: 3}, {set: "otherA", gap: 3}}},
	{id: "steer.coercion", sev: Soft, ctx: ctxAll,
		why:   "threatens failure to make the model comply",
		steps: []step{{set: "otherwiseW"}, {set: "subjectN", gap: 3}, {set: "failW", gap: 4}}},
	{id: "steer.output", sev: Soft, ctx: ctxAll,
		why:   "tells the model what to tell the user",
		steps: []step{{set: "tellUser"}}},
	{id: "steer.output", sev: Soft, ctx: ctxAll,
		why:   "tells the model to promote something",
		steps: []step{{set: "alwaysNever"}, {set: "manV", gap: 2}}},
	{id: "steer.output", sev: Soft, ctx: ctxAll,
		why:   "tells the model to promote something",
		steps: []step{{set: "manV"}, {set: "ourA", gap: 3}}},
	// Sampling requests.
	{id: "sampling.hidden-task", sev: Hard, ctx: ctxSampling,
		why:   "adds a task to gather secrets to a sampling request",
		steps: []step{{set: "addW"}, {set: "gatherV", gap: 6}, {set: "nearbyN", gap: 8}}},
	{id: "sampling.persistent", sev: Hard, ctx: ctxAll,
		why:   "gives the model instructions meant to persist beyond this request",
		steps: []step{{set: "persistW"}, {set: "directiveW", gap: 8}}},
	{id: "sampling.tool-call", sev: Soft, ctx: ctxSampling,
		why:   "asks the model to call a tool from inside a sampling request",
		steps: []step{{set: "callVs"}, {set: "toolWord", gap: 4}}},
}
