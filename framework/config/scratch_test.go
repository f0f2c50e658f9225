package config
import ("testing";"fmt";"os")
func TestScratch(t *testing.T){
  _, err := loadCfg(t, "testdata/many_problems.yaml", nil); fmt.Println(err)
  os.WriteFile("/tmp/dup.yaml", []byte("a: 1\na: 2\n"), 0o644)
  _, err = loadCfg(t, "/tmp/dup.yaml", nil); fmt.Println(err)
  _, err = loadCfg(t, "testdata/malformed.yaml", nil); fmt.Println(err)
  l, err := loadCfg(t, "testdata/valid.yaml", nil); fmt.Println(err)
  y, _ := l.ResolvedYAML(); fmt.Println(string(y))
}
