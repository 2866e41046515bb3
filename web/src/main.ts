// The dashboard's entry point: defines the custom elements; index.html holds <hub-app>.
import './components/hub-app.ts'
